// Whether the contracts' producers, consumers, servers, clients, writers and readers agree with the permission matrix,
// both ways: every listed party holds the permission it needs, and every permission a workload holds is explained by a
// contract that lists it. Roles marked `workload: false` (operators' tools, outside observers) are checked one way only.
import type { RecordContract } from "../contracts/records.ts";
import type { Contract, EndpointContract } from "../contracts/subjects.ts";
import type { PermissionMatrix, RolePermissions } from "./permissions.ts";

/** What the agreement check compares with the matrix. */
export interface ContractCatalogue {
  subjects: readonly Contract[];
  endpoints: readonly EndpointContract[];
  records: readonly RecordContract[];
  /** Streams by name with the subjects they store (a durable consumer on one reads them). */
  streams: Readonly<Record<string, readonly string[]>>;
}

/** The node id filled into `{node}` of per-node permissions and of templates when they are compared. */
const SAMPLE_NODE = "n1";

/** Whether NATS subject `pattern` (with `*` and `>`) matches every subject `subject` (itself possibly a wildcard) matches. */
export function subjectCovers(pattern: string, subject: string): boolean {
  const wanted = pattern.split(".");
  const given = subject.split(".");
  for (let i = 0; i < wanted.length; i++) {
    const token = wanted[i];
    if (token === ">") return given.length > i;
    const other = given[i];
    if (other === undefined || other === ">") return false;
    if (token !== "*" && (token !== other || other === "*")) return false;
  }
  return wanted.length === given.length;
}

/** Whether some subject matches both NATS subjects (each may hold `*` and `>`). */
export function subjectsOverlap(a: string, b: string): boolean {
  const left = a.split(".");
  const right = b.split(".");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === ">" || y === ">") return x !== undefined && y !== undefined;
    if (x === undefined || y === undefined) return false;
    if (x !== "*" && y !== "*" && x !== y) return false;
  }
  return true;
}

/** A template's concrete sample: `{node}` is SAMPLE_NODE, `{service}` the role, any other token `t`. */
function sampleOf(template: string, role: string): string {
  return template.replace(/\{([a-z_]+)\}/g, (_match, token: string) => (token === "node" ? SAMPLE_NODE : token === "service" ? role : "t"));
}

/** A template with each variable token as `*`, the family of subjects (or keys) it stands for. */
function familyOf(template: string): string {
  return template.replace(/\{[a-z_]+\}/g, "*");
}

const fill = (subjects: readonly string[]) => subjects.map((subject) => subject.replaceAll("{node}", SAMPLE_NODE));

/** Every disagreement between the catalogue and the matrix, one sentence each; empty when they agree. */
export function contractDisagreements(matrix: PermissionMatrix, catalogue: ContractCatalogue): string[] {
  const problems: string[] = [];
  const role = (name: string): RolePermissions | undefined => matrix.roles[name];
  const publishes = (name: string, subject: string) => fill(role(name)?.publish ?? []).some((pattern) => subjectCovers(pattern, subject));
  const subscribes = (name: string, subject: string) => fill(role(name)?.subscribe ?? []).some((pattern) => subjectCovers(pattern, subject));
  const durableReads = (name: string, subject: string) =>
    Object.entries(role(name)?.jetstream?.consumers ?? {}).some(
      ([stream, durables]) => durables.length > 0 && (catalogue.streams[stream] ?? []).some((stored) => subjectCovers(stored, subject)),
    );
  const missing = (party: string, what: string) => {
    if (!role(party)) problems.push(`${what}: ${party} has no role in the permission matrix`);
    return !role(party);
  };

  for (const contract of catalogue.subjects) {
    for (const producer of contract.producers) {
      if (missing(producer, `${contract.template} producer`)) continue;
      const subject = sampleOf(contract.template, producer);
      if (!publishes(producer, subject)) problems.push(`${producer} produces ${contract.template} but may not publish ${subject}`);
    }
    for (const consumer of contract.consumers) {
      if (missing(consumer, `${contract.template} consumer`)) continue;
      const subject = sampleOf(contract.template, consumer);
      if (!subscribes(consumer, subject) && !durableReads(consumer, subject))
        problems.push(`${consumer} consumes ${contract.template} but may neither subscribe to ${subject} nor read it through a durable consumer`);
    }
  }
  for (const endpoint of catalogue.endpoints) {
    for (const server of endpoint.servers) {
      if (missing(server, `${endpoint.template} server`)) continue;
      const subject = sampleOf(endpoint.template, server);
      if (!subscribes(server, subject)) problems.push(`${server} answers ${endpoint.template} but may not subscribe to ${subject}`);
      if (!role(server)?.allow_responses) problems.push(`${server} answers ${endpoint.template} but may not respond (allow_responses)`);
    }
    for (const client of endpoint.clients) {
      if (missing(client, `${endpoint.template} client`)) continue;
      const subject = sampleOf(endpoint.template, client);
      if (!publishes(client, subject)) problems.push(`${client} requests ${endpoint.template} but may not publish ${subject}`);
    }
  }
  for (const record of catalogue.records) {
    for (const writer of record.writers) {
      if (missing(writer, `${record.bucket} ${record.key} writer`)) continue;
      const key = sampleOf(record.key, writer);
      if (!fill(role(writer)?.kv?.[record.bucket] ?? []).some((pattern) => subjectCovers(pattern, key)))
        problems.push(`${writer} writes ${record.bucket} ${record.key} but may not write key ${key}`);
    }
    for (const reader of record.readers) {
      if (missing(reader, `${record.bucket} ${record.key} reader`)) continue;
      if (role(reader)?.kv?.[record.bucket] === undefined) problems.push(`${reader} reads ${record.bucket} ${record.key} but the bucket is not among its kv`);
    }
  }

  // The other way: what a workload may do is what a contract says it does.
  for (const [name, permissions] of Object.entries(matrix.roles)) {
    if (!permissions.workload) continue;
    for (const pattern of fill(permissions.publish)) {
      const families = [
        ...catalogue.subjects.filter((contract) => contract.producers.includes(name)).map((contract) => sampleOf(contract.template, name)),
        ...catalogue.endpoints.filter((endpoint) => endpoint.clients.includes(name)).map((endpoint) => familyOf(endpoint.template)),
      ];
      for (const contract of catalogue.subjects) {
        const family = familyOf(contract.template);
        if (subjectsOverlap(pattern, family) && !contract.producers.includes(name))
          problems.push(`${name} may publish ${pattern}, but is not a producer of ${contract.template}`);
      }
      for (const endpoint of catalogue.endpoints) {
        if (subjectsOverlap(pattern, familyOf(endpoint.template)) && !endpoint.clients.includes(name) && !endpoint.servers.includes(name))
          problems.push(`${name} may publish ${pattern}, but is not a client of ${endpoint.template}`);
      }
      if (pattern.startsWith("x0.") && !families.some((family) => subjectsOverlap(pattern, family)))
        problems.push(`${name} may publish ${pattern}, which no contract it produces or requests needs`);
    }
    for (const pattern of fill(permissions.subscribe)) {
      for (const contract of catalogue.subjects) {
        if (subjectsOverlap(pattern, familyOf(contract.template)) && !contract.consumers.includes(name))
          problems.push(`${name} may subscribe to ${pattern}, but is not a consumer of ${contract.template}`);
      }
      for (const endpoint of catalogue.endpoints) {
        if (subjectsOverlap(pattern, familyOf(endpoint.template)) && !endpoint.servers.includes(name))
          problems.push(`${name} may subscribe to ${pattern}, but does not answer ${endpoint.template}`);
      }
    }
    for (const [bucket, patterns] of Object.entries(permissions.kv ?? {})) {
      const inBucket = catalogue.records.filter((record) => record.bucket === bucket);
      if (!inBucket.some((record) => record.readers.includes(name) || record.writers.includes(name)))
        problems.push(`${name} has bucket ${bucket} among its kv, but no record of it lists ${name}`);
      for (const pattern of fill(patterns)) {
        for (const record of inBucket) {
          if (subjectsOverlap(pattern, familyOf(record.key)) && !record.writers.includes(name))
            problems.push(`${name} may write ${bucket} ${pattern}, which covers ${record.key}, but is not its writer`);
        }
        if (!inBucket.some((record) => record.writers.includes(name) && subjectsOverlap(pattern, sampleOf(record.key, name))))
          problems.push(`${name} may write ${bucket} ${pattern}, which no record it writes needs`);
      }
    }
  }
  return problems;
}
