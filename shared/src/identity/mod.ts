// Workload identity: SPIFFE ids, the development CA, SVID checks, the NATS permission matrix and nats-server's syntax.
export type { DevCa, IssuedCertificate } from "./dev-ca.ts";
export { CertificateIssueError, createDevCa, createIntermediateCa, issueServerCertificate, issueSvid, loadDevCa } from "./dev-ca.ts";
export type { ConfValue } from "./nats-conf.ts";
export { formatConf, K8S_USERS_FILE, Verbatim } from "./nats-conf.ts";
export type { NatsClusterOptions, NatsConfigOptions, NatsUser } from "./permissions.ts";
export {
  loadPermissionMatrix,
  NATS_ROUTE_NAME,
  natsUsers,
  PERMISSION_MATRIX_PATH,
  PermissionMatrix,
  PermissionMatrixError,
  RolePermissions,
  renderNatsConfig,
  supportsTlsMinVersion,
} from "./permissions.ts";
export type { TlsFiles, WorkloadIdentity } from "./source.ts";
export { IdentityError, openIdentity, resolveSvidSource } from "./source.ts";
export type { SpiffeId } from "./spiffe.ts";
export { DEFAULT_TRUST_DOMAIN, parseSpiffeId, SpiffeIdError, spiffeIdOf } from "./spiffe.ts";
export type { CheckedSvid } from "./svid.ts";
export { certificatesOfPem, checkSvid, pemOf, SvidError } from "./svid.ts";
export type { SvidMaterial, WorkloadApiOptions } from "./workload-api.ts";
export { socketPathOf, WorkloadApiClient, WorkloadApiError, workloadApiService } from "./workload-api.ts";
