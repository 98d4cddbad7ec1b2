// Test helpers: real nats-server (alone or as a cluster) and real service processes on free ports, and a recorder of the
// loop's messages.
import type { Anomaly, NeighbourSample } from "../contracts/schemas.ts";

export { memoryGovBucket, signedGenesis, signedVote, stored, type TestMember, testMembers, testProposal } from "./governance.ts";
export { incidentEvents, type LabIncident } from "./incidents.ts";
export {
  connectionNames,
  type NatsServer,
  type SecureCluster,
  type SecureNats,
  type SecureNatsOptions,
  startNatsServer,
  startSecureCluster,
  startSecureNats,
  TEST_OBSERVER,
  TEST_VOTER,
  type TestTls,
} from "./nats.ts";
export { collectLines, freePort, REPO_ROOT, type ServiceProcess, serviceProcessOf, startServiceProcess, waitFor } from "./process.ts";
export { type Arrival, EventRecorder, type RecordOptions, type Rejected, recordEvents } from "./recorder.ts";
export { SOFTHSM_MODULE, setNativeEnv, softhsmAvailable, softhsmToken, type TestToken } from "./softhsm.ts";

/** A valid `opened` link_down anomaly for tests, with a fresh incident id; `overrides` replace fields. */
export function anomalyFixture(overrides: Partial<Anomaly> = {}): Anomaly {
  const now = Date.now();
  return {
    v: 1,
    incident_id: crypto.randomUUID(),
    state: "opened",
    update: 0,
    kind: "link_down",
    severity: "critical",
    node: "n1",
    interface: "mesh1",
    metric: "operstate",
    observed: 0,
    baseline_mean: 1,
    baseline_stddev: 0,
    score: 1e9,
    opened_at: now,
    ts: now,
    ...overrides,
  };
}

/** A valid XDP neighbour sample for tests: frames per second `packetsPerS` (bytes at 100 per frame), alive, no drops. */
export function neighbourFixture(mac: string, ipv4: string | null, packetsPerS: number, overrides: Partial<NeighbourSample> = {}): NeighbourSample {
  return {
    mac,
    ipv4,
    packets: 0,
    bytes: 0,
    dropped: 0,
    packets_delta: 0,
    bytes_delta: 0,
    dropped_delta: 0,
    packets_per_s: packetsPerS,
    bytes_per_s: packetsPerS * 100,
    dropped_per_s: 0,
    last_seen_ts: 0,
    alive: true,
    denied: false,
    fault_probability: 0,
    ...overrides,
  };
}
