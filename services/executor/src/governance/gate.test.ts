import { describe, expect, test } from "bun:test";
import { createNativeBackend, MessageVerifier, type Plan, type SignedDomain, signMessage, type Tally, type VerifyingKey, type VoteRules } from "@x0/shared";
import { GovStore, MemberChain, planContentHash, RecoveryCache } from "@x0/shared/governance";
import { memoryGovBucket, signedGenesis, signedVote, stored, type TestMember, testMembers, testProposal } from "@x0/shared/testing";
import { ungovernedGate } from "./admit.ts";
import { VoteGate } from "./gate.ts";

const backend = createNativeBackend();
const keys = new Map<string, VerifyingKey>();
function signerOf(service: string) {
  const pair = backend.sigKeypair();
  const keyId = `${service}-${crypto.randomUUID().slice(0, 8)}`;
  keys.set(keyId, { keyId, service, alg: "ML-DSA-65", mldsaPublic: pair.publicKey, notBefore: Date.now() - 60_000, notAfter: Date.now() + 3_600_000 });
  return <T extends object>(domain: SignedDomain, message: T) =>
    signMessage(backend, domain, message, { keyId, alg: "ML-DSA-65", mldsaSecret: pair.secretKey });
}
const planner = signerOf("planner");
const verifier = new MessageVerifier({ backend, keys: { get: (id: string) => keys.get(id) } });
const members = testMembers({ a: 1, b: 4, c: 9, d: 16 });
const member = (name: string) => members.find((m) => m.name === name) as TestMember;
const genesis = await signedGenesis(members);
const rules: VoteRules = { duration_ms: 60_000, quorum_bps: 5000, threshold_bps: 5000, tally: "quadratic", revote: false };

async function setup(sign = planner) {
  const store = new GovStore(memoryGovBucket());
  const votePlan: Plan = planner("plan", {
    v: 1,
    plan_id: crypto.randomUUID(),
    incident_id: crypto.randomUUID(),
    node: "n1",
    kind: "traffic_spike",
    rule: "traffic_spike/quarantine",
    approval: "vote",
    proposal_id: crypto.randomUUID(),
    actions: [{ type: "notify", params: { message: "m" }, reason: "r" }],
    created_at: Date.now(),
  });
  const proposal = sign(
    "gov-proposal",
    testProposal(genesis, rules, { kind: "plan", proposal_id: votePlan.proposal_id, content: planContentHash(votePlan), plan: votePlan }),
  );
  await store.createProposal(proposal);
  const cache = new RecoveryCache();
  const gate = () =>
    new VoteGate({
      governance: { store, chain: new MemberChain(genesis, store, cache), cache },
      verifier,
      signers: ["planner"],
      recheckMs: 500,
    });
  return { store, votePlan, proposal, gate };
}

describe("executor vote gate", () => {
  test("open: wait (at most the recheck time); passed on recount: run; not passed: reject", async () => {
    const { store, votePlan, proposal, gate } = await setup();
    expect(await gate().decide(votePlan)).toMatchObject({ kind: "wait", retryMs: 500 });
    for (const name of ["c", "d"]) await store.putVote(stored(await signedVote(member(name), proposal, 1)), false);
    expect(await gate().decide(votePlan)).toMatchObject({ kind: "run", detail: expect.stringContaining("passed early") });

    const other = await setup();
    for (const name of ["c", "d"]) await other.store.putVote(stored(await signedVote(member(name), other.proposal, 2)), false);
    expect(await other.gate().decide(other.votePlan)).toMatchObject({ kind: "reject", detail: expect.stringContaining("did not pass") });
  });

  test("a tally that disagrees with the recount is refused, whichever way it lies", async () => {
    const { store, votePlan, proposal, gate } = await setup();
    const tally = (result: "passed" | "rejected", of = proposal): Tally => ({
      v: 1,
      proposal_id: of.proposal_id,
      proposal_hash: of.hash,
      result,
      reason: "forged",
      decided: "early",
      totals: { yes: 0, no: 0, abstain: 0, eligible: 10, votes: 0 },
      votes: [],
      closed_at: Date.now(),
    });
    await store.createTally(tally("passed"));
    expect(await gate().decide(votePlan)).toMatchObject({ kind: "reject", detail: expect.stringContaining("tally refused") });
    const passing = await setup();
    for (const name of ["c", "d"]) await passing.store.putVote(stored(await signedVote(member(name), passing.proposal, 1)), false);
    await passing.store.createTally(tally("rejected", passing.proposal));
    expect(await passing.gate().decide(passing.votePlan)).toMatchObject({ kind: "reject", detail: expect.stringContaining("tally says rejected") });
  });

  test("a plan its proposal does not bind, an unsigned or foreign proposal, or no governance here: reject", async () => {
    const { votePlan, gate } = await setup();
    const altered = planner("plan", { ...votePlan, actions: [{ type: "notify" as const, params: { message: "other" }, reason: "r" }] });
    expect(await gate().decide(altered)).toMatchObject({ kind: "reject", detail: expect.stringContaining("altered plan") });
    expect(await ungovernedGate.decide(votePlan)).toMatchObject({ kind: "reject", detail: expect.stringContaining("X0_GOV_MEMBERS") });
    expect(await gate().decide({ ...votePlan, proposal_id: crypto.randomUUID() })).toMatchObject({
      kind: "reject",
      detail: expect.stringContaining("not in x0_gov"),
    });
    const unsigned = await setup(((_domain: SignedDomain, message: object) => message) as typeof planner);
    expect(await unsigned.gate().decide(unsigned.votePlan)).toMatchObject({ kind: "reject", detail: expect.stringContaining("signature: unsigned") });
    const foreign = await setup(signerOf("rag"));
    expect(await foreign.gate().decide(foreign.votePlan)).toMatchObject({ kind: "reject", detail: expect.stringContaining("not a plan signer") });
  });
});
