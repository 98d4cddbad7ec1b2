import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { waitFor } from "../testing/mod.ts";
import { createDevCa, createIntermediateCa, type DevCa, issueSvid } from "./dev-ca.ts";
import { certificatesOfPem } from "./svid.ts";
import { materialOf, type SvidMaterial, socketPathOf, splitDer, WorkloadApiClient, type WorkloadApiError, workloadApiService } from "./workload-api.ts";
import { x509 } from "./x509.ts";

const TD = "x0tta6bl4.mesh";
/** The DER blocks of a PEM text, concatenated as the Workload API sends certificate lists. */
const derOf = (pemText: string) => Buffer.concat(x509.PemConverter.decode(pemText).map((der) => Buffer.from(der)));

async function svidMessage(ca: DevCa, role: string) {
  const issued = await issueSvid({ ca, role });
  return {
    spiffe_id: issued.spiffeId,
    x509_svid: derOf(issued.certPem),
    x509_svid_key: derOf(issued.keyPem),
    bundle: derOf(ca.certPem),
  };
}

/** A Workload API server on a unix socket speaking the vendored workload.proto, as a SPIRE agent does. */
async function startAgent(socket: string, first: object) {
  const streams: grpc.ServerWritableStream<object, object>[] = [];
  const headers: string[] = [];
  const server = new grpc.Server();
  server.addService(workloadApiService().service, {
    FetchX509SVID: (call: grpc.ServerWritableStream<object, object>) => {
      const header = String(call.metadata.get("workload.spiffe.io")[0] ?? "");
      headers.push(header);
      if (header !== "true") {
        call.emit("error", { code: grpc.status.INVALID_ARGUMENT, details: "security header missing from request" });
        return;
      }
      streams.push(call);
      call.write({ svids: [first] });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())),
  );
  return { server, streams, headers, stop: () => server.forceShutdown() };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

describe("workload api", () => {
  test("workload api - endpoints and DER lists parse; bad ones are refused", () => {
    expect(socketPathOf("unix:///run/spire/agent.sock")).toBe("/run/spire/agent.sock");
    expect(socketPathOf("unix:/tmp/a.sock")).toBe("/tmp/a.sock");
    expect(() => socketPathOf("tcp://127.0.0.1:8081")).toThrow(/unix/);
    expect(splitDer(Buffer.from([0x30, 0x01, 0x00, 0x30, 0x00]))).toHaveLength(2);
    expect(() => splitDer(Buffer.from([0x30, 0x05, 0x00]))).toThrow(/truncated/);
  });

  test("workload api - an SVID sent with its intermediate CA checks against the root bundle and keeps its chain", async () => {
    const root = await createDevCa({ trustDomain: TD, pathLength: 1 });
    const intermediate = await createIntermediateCa({ parent: root });
    const issued = await issueSvid({ ca: intermediate, role: "executor", name: "n1" });
    const message = {
      spiffe_id: `spiffe://${TD}/x0/executor/n1`,
      x509_svid: derOf(issued.certPem),
      x509_svid_key: derOf(issued.keyPem),
      bundle: derOf(root.certPem),
    };
    const material = await materialOf(message, TD);
    // The chain goes on to NATS whole (leaf, then intermediate), so the server can build the path to its CA file.
    expect(certificatesOfPem(material.certPem, "svid").map((cert) => cert.subject)).toEqual([
      expect.stringContaining("CN=executor"),
      intermediate.cert.subject,
    ]);
    expect(certificatesOfPem(material.bundlePem, "bundle").map((cert) => cert.subject)).toEqual([root.cert.subject]);
    await expect(materialOf({ ...message, x509_svid: derOf(certificatesOfPem(issued.certPem, "svid")[0]?.toString("pem") ?? "") }, TD)).rejects.toThrow(
      /not signed by a CA/,
    );
  });

  test("workload api - streams the SVID with the security header, then an update pushed mid-stream", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-wl-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const ca = await createDevCa({ trustDomain: TD });
    const socket = join(dir, "agent.sock");
    const agent = await startAgent(socket, await svidMessage(ca, "analyzer"));
    cleanups.push(agent.stop);
    const updates: SvidMaterial[] = [];
    const errors: WorkloadApiError[] = [];
    const client = new WorkloadApiClient({ endpoint: `unix://${socket}`, trustDomain: TD, onUpdate: (m) => updates.push(m), onError: (e) => errors.push(e) });
    cleanups.push(() => client.stop());
    client.start();
    await waitFor("the first SVID", () => updates.length === 1, 10_000);
    expect(agent.headers).toEqual(["true"]);
    expect(updates[0]?.spiffeId).toBe(`spiffe://${TD}/x0/analyzer`);
    expect(updates[0]?.keyPem).toStartWith("-----BEGIN PRIVATE KEY-----");
    // A rotated SVID pushed on the open stream.
    const rotated = await svidMessage(ca, "analyzer");
    agent.streams[0]?.write({ svids: [rotated] });
    await waitFor("the rotated SVID", () => updates.length === 2, 10_000);
    expect(updates[1]?.certPem).not.toBe(updates[0]?.certPem);
    // An SVID from another CA is reported and not used.
    const stranger = await createDevCa({ trustDomain: TD });
    agent.streams[0]?.write({ svids: [{ ...(await svidMessage(stranger, "analyzer")), bundle: derOf(ca.certPem) }] });
    await waitFor("the refusal", () => errors.some((e) => /does not check/.test(e.message)), 10_000);
    expect(updates).toHaveLength(2);
  });

  test("workload api - a missing socket is reported and retried until the agent appears", async () => {
    const dir = mkdtempSync(join(tmpdir(), "x0-wl-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, "agent.sock");
    const updates: SvidMaterial[] = [];
    const errors: WorkloadApiError[] = [];
    const client = new WorkloadApiClient({
      endpoint: `unix://${socket}`,
      trustDomain: TD,
      onUpdate: (m) => updates.push(m),
      onError: (e) => errors.push(e),
      initialBackoffMs: 50,
      maxBackoffMs: 200,
    });
    cleanups.push(() => client.stop());
    client.start();
    await waitFor("two failed attempts", () => errors.length >= 2, 5000);
    expect(errors[0]?.message).toContain("does not exist");
    const ca = await createDevCa({ trustDomain: TD });
    const agent = await startAgent(socket, await svidMessage(ca, "planner"));
    cleanups.push(agent.stop);
    await waitFor("the SVID once the agent is up", () => updates.length === 1, 10_000);
    // The agent goes away: the break is reported and the client reconnects to the next one.
    agent.stop();
    await waitFor("the broken stream", () => errors.some((e) => /stream ended/.test(e.message)), 10_000);
    rmSync(socket, { force: true });
    const second = await startAgent(socket, await svidMessage(ca, "planner"));
    cleanups.push(second.stop);
    await waitFor("the SVID from the new agent", () => updates.length === 2, 10_000);
  });
});
