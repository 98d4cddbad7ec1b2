// Governance on real Linux networking (root): a grid:2x2 lab whose policy lets members decide quarantines. A flood from
// one neighbour opens a vote plan; the node's executor holds it (the flood's packets still arrive) until three members'
// EIP-712 votes pass it, then recounts, quarantines through the XDP deny map and verifies the flood is dropped.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inNetns, LAB_SCRIPTS_DIR, linkBetween, nodeOf } from "@x0/lab";
import { ActionResult, Plan, type Telemetry } from "@x0/shared";
import { REPO_ROOT, signedGenesis, testMembers, waitFor } from "@x0/shared/testing";
import { runGov } from "../cli/src/gov/command.ts";
import { type HealLab, labRunnable, recordLoop, startHealLab } from "./lab-stack.ts";

if (!labRunnable) process.stderr.write("governance.netns.test.ts: skipped: needs root (namespaces, XDP) and nats-server on PATH\n");

const prefix = `x0g${process.pid % 1_000_000}`;
const work = mkdtempSync(join(tmpdir(), "x0-gov-netns-"));
const members = testMembers({ a: 1, b: 4, c: 9, d: 16 });
let lab: HealLab;
let messages: ReturnType<typeof recordLoop> = [];

beforeAll(async () => {
  if (!labRunnable) return;
  const genesis = await signedGenesis(members, "lab.mesh");
  writeFileSync(join(work, "members.json"), JSON.stringify(genesis));
  for (const member of members) {
    writeFileSync(join(work, `${member.name}.key`), member.privateKey);
    chmodSync(join(work, `${member.name}.key`), 0o600);
  }
  const policy = readFileSync(join(REPO_ROOT, "services", "planner", "policy.yaml"), "utf8")
    .replace("      - { name: quarantine, approval: auto }", "      - { name: quarantine, approval: vote }")
    .concat("\ngovernance: { duration_ms: 120000, quorum_bps: 5000, threshold_bps: 5000, tally: quadratic }\n");
  if (!policy.includes("name: quarantine, approval: vote")) throw new Error("policy.yaml changed: update the test's quarantine override");
  writeFileSync(join(work, "policy.yaml"), policy);
  lab = await startHealLab({
    topology: "grid:2x2",
    prefix,
    env: { X0_GOV_MEMBERS: join(work, "members.json") },
    serviceEnv: { planner: { X0_PLANNER_POLICY: join(work, "policy.yaml") }, executor: { X0_EXECUTOR_VOTE_RECHECK_MS: "200" } },
  });
  messages = recordLoop(lab);
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!labRunnable)("governance on the lab", () => {
  test("governance - a quarantine waits for votes, passes with three members, and is executed and verified in the kernel", async () => {
    const target = nodeOf(lab.plan, "n2");
    const flooder = nodeOf(lab.plan, "n1");
    const { near } = linkBetween(lab.plan, "n2", "n1");
    const telemetry: Telemetry[] = [];
    const sub = lab.nc.subscribe("x0.telemetry.n2", { callback: (_error, msg) => void telemetry.push(msg.json<Telemetry>()) });
    const neighbour = (sample: Telemetry | undefined) =>
      sample?.interfaces.find((i) => i.name === near.interface)?.neighbours?.find((n) => n.ipv4 === flooder.serviceAddress);
    const flood = Bun.spawn(inNetns(flooder.netnsPath, [process.execPath, join(LAB_SCRIPTS_DIR, "udp-flood.ts"), target.serviceAddress, "9", "8", "64"]), {
      stdout: "ignore",
      stderr: "ignore",
    });
    const results = () => messages.filter((m) => m.subject.startsWith("x0.action.")).map((m) => ActionResult.parse(m.body));
    try {
      await waitFor("a vote plan", () => messages.some((m) => m.subject.startsWith("x0.plan.") && Plan.parse(m.body).approval === "vote"), 20_000, 100);
      const plan = Plan.parse(messages.find((m) => m.subject.startsWith("x0.plan.") && Plan.parse(m.body).approval === "vote")?.body);
      expect(plan.actions.map((action) => action.type)).toContain("quarantine_neighbour");
      await waitFor("awaiting_approval", () => results().some((r) => r.plan_id === plan.plan_id && r.status === "awaiting_approval"), 10_000, 100);
      // Held: a second later the neighbour is still not denied in the kernel.
      await Bun.sleep(1000);
      expect(neighbour(telemetry.at(-1))?.denied ?? false).toBe(false);

      const env = {
        X0_NATS_SERVERS: lab.nats.url,
        X0_GOV_MEMBERS: join(work, "members.json"),
        X0_NATS_TLS_CA: lab.secure.adminTls.caFile,
        X0_NATS_TLS_CERT: lab.secure.adminTls.certFile,
        X0_NATS_TLS_KEY: lab.secure.adminTls.keyFile,
      };
      const output = { out: () => {}, err: () => {} };
      for (const name of ["a", "b", "d"]) {
        expect(await runGov(["vote", plan.proposal_id as string, "--key", join(work, `${name}.key`), "--choice", "yes"], env, output)).toBe(0);
      }
      await waitFor("a verified quarantine", () => results().some((r) => r.plan_id === plan.plan_id && r.status === "verified"), 20_000, 100);
      const first = neighbour(telemetry.at(-1))?.dropped ?? 0;
      await waitFor("the flooder's drops rising", () => (neighbour(telemetry.at(-1))?.dropped ?? 0) > first + 1000, 5000, 100);
      expect(neighbour(telemetry.at(-1))?.denied).toBe(true);
      expect(results().filter((r) => r.plan_id === plan.plan_id && r.status === "awaiting_approval")).toHaveLength(1);
    } finally {
      flood.kill();
      await flood.exited;
      sub.unsubscribe();
    }
  }, 90_000);

  test("governance - every process did all of this within its permissions: the server refused nothing", () => {
    expect(lab.nats.log.filter((line) => line.includes("Violation"))).toEqual([]);
  });
});
