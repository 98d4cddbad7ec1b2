import { describe, expect, test } from "bun:test";
import { records } from "../contracts/records.ts";
import { contracts, DLQ_STREAM, DLQ_SUBJECTS, EVENTS_STREAM, EVENTS_SUBJECTS, endpoints } from "../contracts/subjects.ts";
import { type ContractCatalogue, contractDisagreements, subjectCovers, subjectsOverlap } from "./agreement.ts";
import { loadPermissionMatrix, type PermissionMatrix } from "./permissions.ts";

const catalogue: ContractCatalogue = {
  subjects: Object.values(contracts),
  endpoints: Object.values(endpoints),
  records: Object.values(records),
  streams: { [EVENTS_STREAM]: EVENTS_SUBJECTS, [DLQ_STREAM]: DLQ_SUBJECTS },
};
const matrix = loadPermissionMatrix();

/** A deep copy of the matrix with one role changed. */
function withRole(name: string, change: (role: PermissionMatrix["roles"][string]) => void): PermissionMatrix {
  const copy = structuredClone(matrix);
  const role = copy.roles[name];
  if (!role) throw new Error(`no role ${name}`);
  change(role);
  return copy;
}

describe("contract agreement", () => {
  test("agreement - NATS subject patterns cover and overlap as nats-server matches them", () => {
    expect(subjectCovers("x0.telemetry.*", "x0.telemetry.n1")).toBe(true);
    expect(subjectCovers("x0.telemetry.*", "x0.telemetry.*")).toBe(true);
    expect(subjectCovers("x0.telemetry.n1", "x0.telemetry.*")).toBe(false);
    expect(subjectCovers("x0.>", "x0.plan.n1")).toBe(true);
    expect(subjectCovers("x0.>", "x0")).toBe(false);
    expect(subjectCovers("x0.*", "x0.plan.n1")).toBe(false);
    expect(subjectCovers("x0.*.n1", "x0.>")).toBe(false);
    expect(subjectsOverlap("x0.dlq.crypto", "x0.dlq.*")).toBe(true);
    expect(subjectsOverlap("x0.probe.*", "x0.plan.*")).toBe(false);
    expect(subjectsOverlap(">", "key.*")).toBe(true);
    expect(subjectsOverlap("stats.>", "stats")).toBe(false);
    expect(subjectsOverlap("*", "lease.*")).toBe(false);
  });

  test("agreement - every contract's parties hold the permissions they need, and every workload permission is a contract's", () => {
    expect(contractDisagreements(matrix, catalogue)).toEqual([]);
  });

  test("agreement - a consumer without its subscription is reported, naming the role and the subject", () => {
    const changed = withRole("analyzer", (role) => {
      role.subscribe = role.subscribe.filter((subject) => subject !== "x0.telemetry.*");
    });
    expect(contractDisagreements(changed, catalogue)).toEqual([
      "analyzer consumes x0.telemetry.{node} but may neither subscribe to x0.telemetry.n1 nor read it through a durable consumer",
    ]);
  });

  test("agreement - a reader of a stream through a durable consumer needs no subscription", () => {
    const changed = withRole("planner", (role) => {
      if (role.jetstream) role.jetstream.consumers = {};
    });
    expect(contractDisagreements(changed, catalogue)).toEqual([
      "planner consumes x0.anomaly.{node} but may neither subscribe to x0.anomaly.n1 nor read it through a durable consumer",
      "planner consumes x0.action.{node} but may neither subscribe to x0.action.n1 nor read it through a durable consumer",
    ]);
  });

  test("agreement - a permission no contract lists is reported: an undocumented reader, publisher, writer or bucket", () => {
    const changed = withRole("monitor", (role) => {
      role.subscribe.push("x0.plan.*");
      role.publish.push("x0.anomaly.{node}");
      role.kv = { ...role.kv, x0_topology: [...(role.kv?.x0_topology ?? []), "link.>"], x0_outcomes: [] };
    });
    expect(contractDisagreements(changed, catalogue).sort()).toEqual(
      [
        "monitor may publish x0.anomaly.n1, but is not a producer of x0.anomaly.{node}",
        "monitor may publish x0.anomaly.n1, which no contract it produces or requests needs",
        "monitor may subscribe to x0.plan.*, but is not a consumer of x0.plan.{node}",
        "monitor may write x0_topology link.>, which covers link.{a}.{b}, but is not its writer",
        "monitor may write x0_topology link.>, which no record it writes needs",
        "monitor has bucket x0_outcomes among its kv, but no record of it lists monitor",
      ].sort(),
    );
  });

  test("agreement - a contract that names a party without the permission, or without a role, is reported", () => {
    const wider: ContractCatalogue = {
      ...catalogue,
      subjects: catalogue.subjects.map((contract) =>
        contract === contracts.plan ? { ...contract, consumers: [...contract.consumers, "monitor", "governance"] } : contract,
      ),
      records: catalogue.records.map((record) => (record === records.revocation ? { ...record, writers: [...record.writers, "planner"] } : record)),
    };
    expect(contractDisagreements(matrix, wider)).toEqual([
      "monitor consumes x0.plan.{node} but may neither subscribe to x0.plan.n1 nor read it through a durable consumer",
      "x0.plan.{node} consumer: governance has no role in the permission matrix",
      "planner writes x0_keyring revoked.{key_id} but may not write key revoked.t",
    ]);
  });

  test("agreement - a server that may not respond is reported", () => {
    const changed = withRole("monitor", (role) => {
      role.allow_responses = false;
    });
    expect(contractDisagreements(changed, catalogue)).toEqual(["monitor answers x0.probe.{node} but may not respond (allow_responses)"]);
  });
});
