import { describe, expect, test } from "bun:test";
import { createDevCa, createIntermediateCa, issueServerCertificate, issueSvid, loadDevCa } from "./dev-ca.ts";
import { parseSpiffeId, SpiffeIdError, spiffeIdOf } from "./spiffe.ts";
import { certificatesOfPem, checkSvid, SvidError } from "./svid.ts";

describe("spiffe ids", () => {
  test("spiffe - x0 ids parse into role and node; others are refused", () => {
    expect(parseSpiffeId("spiffe://x0tta6bl4.mesh/x0/monitor/n1")).toEqual({
      trustDomain: "x0tta6bl4.mesh",
      segments: ["x0", "monitor", "n1"],
      role: "monitor",
      name: "n1",
    });
    expect(spiffeIdOf("x0tta6bl4.mesh", "planner")).toBe("spiffe://x0tta6bl4.mesh/x0/planner");
    for (const bad of [
      "https://x0tta6bl4.mesh/x0/planner",
      "spiffe://UPPER/x0/planner",
      "spiffe://td/other/planner",
      "spiffe://td/x0/a/b/c",
      "spiffe://td/x0/../a",
    ])
      expect(() => parseSpiffeId(bad)).toThrow(SpiffeIdError);
  });
});

describe("development CA and SVID checks", () => {
  test("svid - an issued SVID passes: one URI SAN, not a CA, digitalSignature, signed by the bundle, one hour", async () => {
    const ca = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
    const svid = await issueSvid({ ca, role: "monitor", name: "n1" });
    const checked = await checkSvid({ certPem: svid.certPem, bundlePem: ca.certPem, trustDomain: "x0tta6bl4.mesh" });
    expect(checked.spiffeId).toBe("spiffe://x0tta6bl4.mesh/x0/monitor/n1");
    expect(checked.notAfter.getTime() - checked.notBefore.getTime()).toBe(3_600_000 + 60_000);
    expect(svid.keyPem).toStartWith("-----BEGIN PRIVATE KEY-----");
  });

  test("svid - expired, foreign-CA, wrong-trust-domain, server and malformed certificates are refused", async () => {
    const ca = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
    const other = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
    const foreignDomain = await createDevCa({ trustDomain: "evil.mesh" });
    const expired = await issueSvid({ ca, role: "planner", ttlMs: 1000, notBefore: new Date(Date.now() - 3_600_000) });
    const fromOther = await issueSvid({ ca: other, role: "planner" });
    const fromForeign = await issueSvid({ ca: foreignDomain, role: "planner" });
    const server = await issueServerCertificate({ ca });
    const check = (certPem: string, bundlePem = ca.certPem) => checkSvid({ certPem, bundlePem, trustDomain: "x0tta6bl4.mesh" });
    await expect(check(expired.certPem)).rejects.toThrow(/expired/);
    await expect(check(fromOther.certPem)).rejects.toThrow(/not signed by a CA/);
    await expect(check(fromForeign.certPem, `${ca.certPem}${foreignDomain.certPem}`)).rejects.toThrow(/trust domain evil.mesh/);
    await expect(check(server.certPem)).rejects.toThrow(/exactly one URI SAN/);
    await expect(check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")).rejects.toThrow(SvidError);
    await expect(check(ca.certPem.replace(/[A-Za-z]/, "*"), "")).rejects.toThrow(SvidError);
  });

  test("svid - a chain through an intermediate CA (SPIRE under an upstream authority) checks against the root alone", async () => {
    const root = await createDevCa({ trustDomain: "x0tta6bl4.mesh", pathLength: 1 });
    const intermediate = await createIntermediateCa({ parent: root });
    const svid = await issueSvid({ ca: intermediate, role: "analyzer" });
    expect(certificatesOfPem(svid.certPem, "the SVID").map((cert) => cert.subject)).toEqual([
      expect.stringContaining("CN=analyzer"),
      intermediate.cert.subject,
    ]);
    const checked = await checkSvid({ certPem: svid.certPem, bundlePem: root.certPem, trustDomain: "x0tta6bl4.mesh" });
    expect(checked).toMatchObject({ spiffeId: "spiffe://x0tta6bl4.mesh/x0/analyzer", intermediates: 1 });
    // The intermediate in the bundle too (as some bundles carry it) ends the path there.
    const direct = await checkSvid({ certPem: svid.certPem, bundlePem: `${root.certPem}\n${intermediate.certPem}`, trustDomain: "x0tta6bl4.mesh" });
    expect(direct.intermediates).toBe(0);
  });

  test("svid - broken chains are refused: missing intermediate, root forbidding it, expired or non-CA intermediate", async () => {
    const check = (certPem: string, bundlePem: string) => checkSvid({ certPem, bundlePem, trustDomain: "x0tta6bl4.mesh" });
    const root = await createDevCa({ trustDomain: "x0tta6bl4.mesh", pathLength: 1 });
    const intermediate = await createIntermediateCa({ parent: root });
    const leafOnly = certificatesOfPem((await issueSvid({ ca: intermediate, role: "planner" })).certPem, "svid")[0]?.toString("pem") ?? "";
    await expect(check(leafOnly, root.certPem)).rejects.toThrow(/not signed by a CA of the x0tta6bl4.mesh trust bundle/);

    const strictRoot = await createDevCa({ trustDomain: "x0tta6bl4.mesh" });
    const underStrict = await issueSvid({ ca: await createIntermediateCa({ parent: strictRoot }), role: "planner" });
    await expect(check(underStrict.certPem, strictRoot.certPem)).rejects.toThrow(/bundle CA .* allows 0 CAs below it, not 1/);

    const past = new Date(Date.now() - 40 * 86_400_000);
    const expiredIntermediate = await createIntermediateCa({ parent: root, days: 30, now: past });
    const underExpired = await issueSvid({ ca: expiredIntermediate, role: "planner" });
    await expect(check(underExpired.certPem, root.certPem)).rejects.toThrow(/intermediate CA .* is not valid at/);

    // A leaf posing as a CA: its signature links, but it is no CA.
    const poser = await issueSvid({ ca: root, role: "observer", name: "poser" });
    const poserCa = { ...(await loadDevCa({ trustDomain: "x0tta6bl4.mesh", certPem: poser.certPem, keyPem: poser.keyPem })), chainPem: poser.certPem };
    const underPoser = await issueSvid({ ca: poserCa, role: "planner" });
    await expect(check(underPoser.certPem, root.certPem)).rejects.toThrow(/intermediate CA .* is not a CA/);
  });
});
