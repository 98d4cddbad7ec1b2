// The built-in development CA: a trust bundle, the NATS server's certificate and short-lived X.509-SVIDs for workloads.
// For SPIRE deployments the Workload API client replaces it (workload-api.ts).

import { X0Error } from "../errors.ts";
import { spiffeIdOf } from "./spiffe.ts";
import { pemOf } from "./svid.ts";
import { x509 } from "./x509.ts";

/** Issuing a certificate failed. */
export class CertificateIssueError extends X0Error {}

/** ECDSA P-256 with SHA-256: accepted by nats-server (Go), Bun's TLS and SPIRE. */
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A certificate with its private key, both PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** The SPIFFE id (URI SAN), for SVIDs. */
  spiffeId?: string;
  notAfter: Date;
}

/** A CA that can issue: its certificate and signing key. */
export interface DevCa {
  trustDomain: string;
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
  /** For an intermediate CA: its certificate and those above it up to (not including) the root, sent after each leaf. */
  chainPem?: string;
}

function serial(): string {
  // 16 random bytes, top bit clear so the DER integer stays positive.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

async function keyPem(key: CryptoKey): Promise<string> {
  return pemOf(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(pem), ALGORITHM, true, ["sign"]);
}

/** Creates a self-signed CA for `trustDomain` (valid `days`, default 365; `pathLength` CAs allowed below it, default 0). */
export async function createDevCa({
  trustDomain,
  days = 365,
  now = new Date(),
  pathLength = 0,
}: {
  trustDomain: string;
  days?: number;
  now?: Date;
  pathLength?: number;
}): Promise<DevCa> {
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=x0tta6bl4 development CA, O=x0tta6bl4, OU=${trustDomain}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * 86_400_000),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      // The SPIFFE bundle's CA is identified by its trust domain.
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { trustDomain, certPem: cert.toString("pem"), keyPem: await keyPem(keys.privateKey), cert, key: keys.privateKey };
}

/**
 * Creates an intermediate CA signed by `parent`, as SPIRE's server CA is under an upstream authority: its leaves carry
 * the chain up to the root, which alone is in the trust bundle.
 */
export async function createIntermediateCa({ parent, days = 30, now = new Date() }: { parent: DevCa; days?: number; now?: Date }): Promise<DevCa> {
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=x0tta6bl4 intermediate CA ${serial().slice(0, 8)}, O=x0tta6bl4, OU=${parent.trustDomain}`,
    issuer: parent.cert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * 86_400_000),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: parent.key,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${parent.trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(parent.cert),
    ],
  });
  const certPem = cert.toString("pem");
  return {
    trustDomain: parent.trustDomain,
    certPem,
    keyPem: await keyPem(keys.privateKey),
    cert,
    key: keys.privateKey,
    chainPem: `${certPem}\n${parent.chainPem ?? ""}`,
  };
}

/** Loads a CA from its PEM certificate and key. */
export async function loadDevCa({ trustDomain, certPem, keyPem: pem }: { trustDomain: string; certPem: string; keyPem: string }): Promise<DevCa> {
  try {
    return { trustDomain, certPem, keyPem: pem, cert: new x509.X509Certificate(certPem), key: await importKeyPem(pem) };
  } catch (error) {
    throw new CertificateIssueError("cannot load the development CA (malformed certificate or key)", { cause: error });
  }
}

interface LeafOptions {
  ca: DevCa;
  subject: string;
  sans: x509.JsonGeneralName[];
  ttlMs: number;
  now?: Date;
  /** Backdate (tests of expired certificates). */
  notBefore?: Date;
}

async function issueLeaf({ ca, subject, sans, ttlMs, now = new Date(), notBefore }: LeafOptions): Promise<IssuedCertificate> {
  try {
    const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    const start = notBefore ?? new Date(now.getTime() - 60_000);
    const notAfter = new Date(start.getTime() + 60_000 + ttlMs);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: ca.cert.subject,
      notBefore: start,
      notAfter,
      signingAlgorithm: ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: ca.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(sans),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ],
    });
    const spiffeId = sans.find((san) => san.type === "url")?.value;
    // Leaves of an intermediate CA carry its chain, as a TLS peer expects them.
    const certPem = `${cert.toString("pem")}\n${ca.chainPem ?? ""}`;
    return { certPem, keyPem: await keyPem(keys.privateKey), notAfter, ...(spiffeId ? { spiffeId } : {}) };
  } catch (error) {
    throw new CertificateIssueError(`cannot issue a certificate for ${subject}`, { cause: error });
  }
}

/** Issues an X.509-SVID for `role` (a service, or "observer") and `name` (node or observer name): one URI SAN, not a CA, digitalSignature. */
export function issueSvid({
  ca,
  role,
  name,
  ttlMs = 3_600_000,
  now,
  notBefore,
}: {
  ca: DevCa;
  role: string;
  name?: string;
  ttlMs?: number;
  now?: Date;
  notBefore?: Date;
}): Promise<IssuedCertificate> {
  const id = spiffeIdOf(ca.trustDomain, role, name);
  return issueLeaf({ ca, subject: `O=x0tta6bl4, CN=${role}${name ? `/${name}` : ""}`, sans: [{ type: "url", value: id }], ttlMs, now, notBefore });
}

/** Issues the NATS server's certificate for its DNS names and IP addresses. */
export function issueServerCertificate({
  ca,
  dnsNames = ["localhost", "nats"],
  ipAddresses = ["127.0.0.1"],
  ttlMs = 30 * 86_400_000,
}: {
  ca: DevCa;
  dnsNames?: string[];
  ipAddresses?: string[];
  ttlMs?: number;
}): Promise<IssuedCertificate> {
  const sans: x509.JsonGeneralName[] = [
    ...dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
  return issueLeaf({ ca, subject: "O=x0tta6bl4, CN=nats", sans, ttlMs });
}
