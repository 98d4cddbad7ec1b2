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
  /** How many intermediate CAs the SVID's chain held between the leaf and the bundle (0 when the bundle signed it). */
  intermediates: number;
}

/** The certificates of a PEM text, in order (blocks of other types are skipped); throws {@link SvidError} naming `what`. */
export function certificatesOfPem(pem: string, what: string): x509.X509Certificate[] {
  let blocks: { type: string; rawData: ArrayBuffer }[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch (error) {
    throw new SvidError(`${what} is not PEM`, { cause: error });
  }
  return blocks
    .filter((block) => block.type === "CERTIFICATE")
    .map((block) => {
      try {
        return new x509.X509Certificate(block.rawData);
      } catch (error) {
        throw new SvidError(`${what} holds a certificate that is not X.509`, { cause: error });
      }
    });
}

/** PEM text of DER blocks (certificates, keys) with the x509 library's encoder. */
export function pemOf(der: ArrayBuffer | Uint8Array | (ArrayBuffer | Uint8Array)[], label: "CERTIFICATE" | "PRIVATE KEY"): string {
  const blocks = Array.isArray(der) ? der : [der];
  return blocks.map((block) => `${x509.PemConverter.encode(new Uint8Array(block), label)}\n`).join("");
}

/**
 * Verifies `certPem` (the leaf, then any intermediate CAs, as SPIRE sends them) against the CAs in `bundlePem` for
 * `trustDomain` at `now`: the x509 library's chain builder links leaf to a bundle certificate by issuer, key id and
 * signature; every link must be in its validity period and every intermediate a CA allowed to sign certificates.
 * Throws {@link SvidError}.
 */
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
  const [leaf, ...intermediates] = certificatesOfPem(certPem, "the SVID");
  if (!leaf) throw new SvidError("the SVID holds no PEM certificate");
  const anchors = certificatesOfPem(bundlePem, "the trust bundle");
  if (anchors.length === 0) throw new SvidError("the trust bundle holds no certificate");

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

  // Anchors that are out of their validity period take no part, so a rotated-out CA with the same name cannot be chosen.
  const validAnchors = anchors.filter((ca) => now >= ca.notBefore && now <= ca.notAfter);
  const anchorPrints = new Set(await Promise.all(validAnchors.map(async (ca) => Buffer.from(await ca.getThumbprint()).toString("hex"))));
  const chain = await new x509.X509ChainBuilder({ certificates: [...intermediates, ...validAnchors] }).build(leaf);
  // chain[0] is the leaf; the first bundle certificate met ends the path, whatever the builder found beyond it.
  for (let index = 1; index < chain.length; index++) {
    const link = chain[index] as x509.X509Certificate;
    const isAnchor = anchorPrints.has(Buffer.from(await link.getThumbprint()).toString("hex"));
    checkCa(link, spiffeId, now, index - 1, isAnchor);
    if (isAnchor) return { id, spiffeId, notAfter: leaf.notAfter, notBefore: leaf.notBefore, intermediates: index - 1 };
  }
  throw new SvidError(`${spiffeId} is not signed by a CA of the ${trustDomain} trust bundle`);
}

/**
 * A CA on an SVID's path must allow the CAs below it (as Go's verifier, and so nats-server, checks even for the root);
 * an intermediate must also be a CA that signs certificates and be in date (anchors were filtered by date already).
 */
function checkCa(ca: x509.X509Certificate, spiffeId: string, now: Date, below: number, isAnchor: boolean): void {
  const what = `${spiffeId}: ${isAnchor ? "bundle" : "intermediate"} CA ${ca.subject}`;
  const constraints = ca.getExtension(x509.BasicConstraintsExtension);
  if (constraints?.pathLength !== undefined && below > constraints.pathLength)
    throw new SvidError(`${what} allows ${constraints.pathLength} CAs below it, not ${below}`);
  if (isAnchor) return;
  if (!constraints?.ca) throw new SvidError(`${what} is not a CA`);
  const usages = ca.getExtension(x509.KeyUsagesExtension)?.usages;
  if (usages !== undefined && !(usages & x509.KeyUsageFlags.keyCertSign)) throw new SvidError(`${what} may not sign certificates`);
  if (now < ca.notBefore || now > ca.notAfter) throw new SvidError(`${what} is not valid at ${now.toISOString()}`);
}
