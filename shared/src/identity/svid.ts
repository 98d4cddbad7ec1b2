// Checks an X.509-SVID the way a peer would before trusting it: SPIFFE's X.509-SVID rules plus chain and validity.

import { X0Error } from "../errors.ts";
import { parseSpiffeId, type SpiffeId } from "./spiffe.ts";
import { x509 } from "./x509.ts";

/** An SVID (or bundle) is malformed, expired, from an unknown CA or from the wrong trust domain. */
export class SvidError extends X0Error {}

/** A checked SVID. */
export interface CheckedSvid {
  id: SpiffeId;
  spiffeId: string;
  notAfter: Date;
  notBefore: Date;
}

function parseCert(pem: string, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (error) {
    throw new SvidError(`${what} is not a PEM X.509 certificate`, { cause: error });
  }
}

/** Splits a PEM bundle into its certificates. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Verifies `certPem` (first certificate of a chain) against the CAs in `bundlePem` for `trustDomain` at `now`; throws {@link SvidError}. */
export async function checkSvid({
  certPem,
  bundlePem,
  trustDomain,
  now = new Date(),
}: {
  certPem: string;
  bundlePem: string;
  trustDomain: string;
  now?: Date;
}): Promise<CheckedSvid> {
  const [leafPem] = splitPem(certPem);
  if (!leafPem) throw new SvidError("the SVID holds no PEM certificate");
  const leaf = parseCert(leafPem, "the SVID");
  const cas = splitPem(bundlePem).map((pem) => parseCert(pem, "a bundle entry"));
  if (cas.length === 0) throw new SvidError("the trust bundle holds no certificate");

  const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = san?.names.items.filter((name) => name.type === "url").map((name) => name.value) ?? [];
  if (uris.length !== 1) throw new SvidError(`an X.509-SVID has exactly one URI SAN; this one has ${uris.length}`);
  const spiffeId = uris[0] as string;
  const id = parseSpiffeId(spiffeId);
  if (id.trustDomain !== trustDomain) throw new SvidError(`${spiffeId} is from trust domain ${id.trustDomain}, not ${trustDomain}`);
  const constraints = leaf.getExtension(x509.BasicConstraintsExtension);
  if (constraints?.ca) throw new SvidError(`${spiffeId}: a leaf SVID must not be a CA`);
  const usages = leaf.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  if (!(usages & x509.KeyUsageFlags.digitalSignature)) throw new SvidError(`${spiffeId}: a leaf SVID must have the digitalSignature key usage`);
  if (usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) throw new SvidError(`${spiffeId}: a leaf SVID must not sign certificates`);
  if (now < leaf.notBefore) throw new SvidError(`${spiffeId} is not valid before ${leaf.notBefore.toISOString()}`);
  if (now > leaf.notAfter) throw new SvidError(`${spiffeId} expired at ${leaf.notAfter.toISOString()}`);

  for (const ca of cas) {
    if (ca.subject !== leaf.issuer) continue;
    if (now < ca.notBefore || now > ca.notAfter) continue;
    if (await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })) return { id, spiffeId, notAfter: leaf.notAfter, notBefore: leaf.notBefore };
  }
  throw new SvidError(`${spiffeId} is not signed by a CA of the ${trustDomain} trust bundle`);
}
