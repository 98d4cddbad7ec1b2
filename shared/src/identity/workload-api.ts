// A SPIFFE Workload API client (SPIRE agent): streams X.509-SVIDs and bundles over the unix socket named by
// SPIFFE_ENDPOINT_SOCKET, checks each one, and reconnects with backoff when the agent is absent or the stream breaks.
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { X0Error } from "../errors.ts";
import { checkSvid, pemOf } from "./svid.ts";

/** The Workload API is unreachable, answered an error, or sent an SVID that does not check. */
export class WorkloadApiError extends X0Error {}

/** An SVID with its key and trust bundle, as PEM. */
export interface SvidMaterial {
  spiffeId: string;
  certPem: string;
  keyPem: string;
  bundlePem: string;
  notAfter: Date;
}

/** The path of a SPIFFE_ENDPOINT_SOCKET value (`unix:///path` or `unix:/path`); throws {@link WorkloadApiError}. */
export function socketPathOf(endpoint: string): string {
  const match = /^unix:(?:\/\/)?(\/[^?#]*)$/.exec(endpoint.trim());
  if (!match?.[1]) throw new WorkloadApiError(`SPIFFE_ENDPOINT_SOCKET ${JSON.stringify(endpoint)} is not unix:///<path>`);
  return match[1];
}

/** Splits concatenated DER certificates (each an ASN.1 SEQUENCE) apart. */
export function splitDer(der: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  while (offset < der.length) {
    if (der[offset] !== 0x30) throw new WorkloadApiError(`DER certificate list: expected a SEQUENCE at byte ${offset}`);
    const first = der[offset + 1] ?? 0;
    let length = first;
    let header = 2;
    if (first & 0x80) {
      const bytes = first & 0x7f;
      if (bytes < 1 || bytes > 4) throw new WorkloadApiError(`DER certificate list: bad length at byte ${offset}`);
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
      header = 2 + bytes;
    }
    const end = offset + header + length;
    if (end > der.length) throw new WorkloadApiError("DER certificate list: truncated certificate");
    out.push(der.subarray(offset, end));
    offset = end;
  }
  return out;
}

/** The raw X509SVID message of workload.proto (keepCase). */
interface X509SvidMessage {
  spiffe_id: string;
  x509_svid: Uint8Array;
  x509_svid_key: Uint8Array;
  bundle: Uint8Array;
}

/** Turns one X509SVID message into checked PEM material. */
export async function materialOf(message: X509SvidMessage, trustDomain: string): Promise<SvidMaterial> {
  const chain = splitDer(message.x509_svid);
  if (chain.length === 0) throw new WorkloadApiError(`the Workload API sent ${message.spiffe_id} without a certificate`);
  if (!message.x509_svid_key?.length) throw new WorkloadApiError(`the Workload API sent ${message.spiffe_id} without a private key`);
  const certPem = pemOf(chain, "CERTIFICATE");
  const bundlePem = pemOf(splitDer(message.bundle), "CERTIFICATE");
  let checked: Awaited<ReturnType<typeof checkSvid>>;
  try {
    checked = await checkSvid({ certPem, bundlePem, trustDomain });
  } catch (error) {
    throw new WorkloadApiError(`the Workload API sent an SVID that does not check: ${(error as Error).message}`, { cause: error });
  }
  if (checked.spiffeId !== message.spiffe_id) throw new WorkloadApiError(`SVID for ${message.spiffe_id} carries ${checked.spiffeId}`);
  return { spiffeId: checked.spiffeId, certPem, keyPem: pemOf(message.x509_svid_key, "PRIVATE KEY"), bundlePem, notAfter: checked.notAfter };
}

/** The vendored workload.proto. */
export const WORKLOAD_PROTO = join(import.meta.dir, "proto", "workload.proto");

/** The SpiffeWorkloadAPI service definition (client constructor, and `.service` for servers in tests). */
export function workloadApiService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(WORKLOAD_PROTO, { keepCase: true, longs: String, defaults: true });
  return grpc.loadPackageDefinition(definition).SpiffeWorkloadAPI as grpc.ServiceClientConstructor;
}

/** Options of {@link WorkloadApiClient}. */
export interface WorkloadApiOptions {
  /** SPIFFE_ENDPOINT_SOCKET, e.g. unix:///run/spire/sockets/agent.sock. */
  endpoint: string;
  trustDomain: string;
  /** Which of the workload's SVIDs to use (default: the first, as the spec says). */
  spiffeId?: string;
  onUpdate: (material: SvidMaterial) => void;
  onError: (error: WorkloadApiError) => void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Streams X.509-SVID updates from the Workload API until stopped. */
export class WorkloadApiClient {
  readonly #socketPath: string;
  #client: grpc.Client | undefined;
  #call: grpc.ClientReadableStream<{ svids: X509SvidMessage[] }> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #backoffMs: number;
  #stopped = false;

  constructor(private readonly options: WorkloadApiOptions) {
    this.#socketPath = socketPathOf(options.endpoint);
    this.#backoffMs = options.initialBackoffMs ?? 250;
  }

  /** Opens the stream (and keeps reopening it). */
  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  #retry(error: WorkloadApiError): void {
    this.#call?.cancel();
    this.#call = undefined;
    this.options.onError(error);
    if (this.#stopped) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #connect(): void {
    if (this.#stopped) return;
    if (!existsSync(this.#socketPath)) {
      this.#retry(new WorkloadApiError(`Workload API socket ${this.#socketPath} does not exist (is the SPIRE agent running?)`));
      return;
    }
    const Service = workloadApiService();
    this.#client ??= new Service(`unix://${this.#socketPath}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    // Required by the Workload API: proves the caller is a local workload, not a browser-forwarded request.
    metadata.set("workload.spiffe.io", "true");
    const call = (
      this.#client as unknown as { FetchX509SVID: (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<{ svids: X509SvidMessage[] }> }
    ).FetchX509SVID({}, metadata);
    this.#call = call;
    let failed = false;
    call.on("data", (response: { svids: X509SvidMessage[] }) => {
      const wanted = this.options.spiffeId ? response.svids.find((svid) => svid.spiffe_id === this.options.spiffeId) : response.svids[0];
      if (!wanted) {
        this.options.onError(new WorkloadApiError(`the Workload API sent no SVID${this.options.spiffeId ? ` for ${this.options.spiffeId}` : ""}`));
        return;
      }
      materialOf(wanted, this.options.trustDomain).then(
        (material) => {
          this.#backoffMs = this.options.initialBackoffMs ?? 250;
          this.options.onUpdate(material);
        },
        (error: WorkloadApiError) => this.options.onError(error),
      );
    });
    const fail = (error: Error | undefined) => {
      if (failed || this.#stopped || this.#call !== call) return;
      failed = true;
      this.#retry(new WorkloadApiError(`Workload API stream ended: ${error?.message ?? "closed by the agent"}`, { cause: error }));
    };
    call.on("error", fail);
    call.on("end", () => fail(undefined));
  }

  /** Stops streaming and retrying. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#call?.cancel();
    this.#client?.close();
    this.#client = undefined;
  }
}
