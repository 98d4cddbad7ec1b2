// bench:gov: how fast votes are verified and a proposal recounted from its signed votes (10, 1,000 and 100,000 votes,
// quadratic tally, against a 100,000-member set), with a raw secp256k1 recovery loop measured in the same run as the
// baseline. Writes bench/results/gov.json. Method: bench/README.md#gov.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MemberSet, StoredVote } from "@x0/shared";
import {
  governanceDomain,
  memberIndex,
  memberSetHash,
  proposalHash,
  RecoveryCache,
  recount,
  recoverSigner,
  VoteDigester,
  ZERO_HASH,
} from "@x0/shared/governance";
import { keccak256, toHex } from "viem";
import { privateKeyToAddress, sign } from "viem/accounts";

const SIZES = [10, 1000, 100_000];
const MEMBERS = Math.max(...SIZES);
const REPEATS = 3;
const log = (line: string) => process.stdout.write(`${line}\n`);

log(`deriving ${MEMBERS} member keys…`);
const keys = Array.from({ length: MEMBERS }, (_, index) => keccak256(toHex(`x0 bench member ${index}`)));
const set: MemberSet = {
  v: 1,
  space: "bench.mesh",
  chain_id: 1,
  version: 1,
  members: keys.map((key, index) => ({ address: privateKeyToAddress(key), weight: 1 + (index % 100), name: "" })),
  previous: ZERO_HASH,
  proposal: ZERO_HASH,
  signatures: [],
};
const digester = new VoteDigester(governanceDomain(set.space, set.chain_id));
const created = Date.now();
const fields = {
  space: set.space,
  proposal_id: crypto.randomUUID(),
  kind: "plan" as const,
  title: "bench",
  content: memberSetHash(set),
  members_version: 1,
  created_at: created,
  deadline_at: created + 3600_000,
  quorum_bps: 5000,
  threshold_bps: 5000,
  tally: "quadratic" as const,
  revote: false,
};
const proposal = { v: 1 as const, ...fields, hash: proposalHash(fields), proposer: "bench" };

log(`signing ${MEMBERS} votes…`);
const votes: StoredVote[] = [];
for (const [index, key] of keys.entries()) {
  const message = {
    from: set.members[index]?.address as string,
    space: set.space,
    timestamp: Math.floor(created / 1000),
    proposal: proposal.hash,
    choice: ((index % 3) + 1) as 1 | 2 | 3,
    reason: "",
    app: "bench",
    metadata: "{}",
  };
  const signature = await sign({ hash: digester.digest(message), privateKey: key, to: "hex" });
  votes.push({ v: 1, proposal_id: proposal.proposal_id, message, signature, received_at: created + index });
  if ((index + 1) % 20_000 === 0) log(`  ${index + 1}`);
}

// Baseline: recovering the signer of 1,000 precomputed digests, nothing else (the floor of any recount).
const digests = votes.slice(0, 1000).map((vote) => digester.digest(vote.message));
let baselineMs = Number.POSITIVE_INFINITY;
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const started = performance.now();
  for (const [index, digest] of digests.entries()) await recoverSigner(digest, votes[index]?.signature as string);
  baselineMs = Math.min(baselineMs, performance.now() - started);
}
log(`baseline: 1000 secp256k1 recoveries in ${baselineMs.toFixed(1)} ms`);

// Once per member set version: its members indexed and sorted (the summing order), then reused by every recount.
const tableStarted = performance.now();
memberIndex(set);
const tableMs = performance.now() - tableStarted;
log(`member table of ${MEMBERS} members: ${tableMs.toFixed(1)} ms`);

const rows: { votes: number; recount_ms: number; votes_per_s: number; warm_recount_ms: number | null; state: string }[] = [];
for (const size of SIZES) {
  const sample = votes.slice(0, size);
  let best = Number.POSITIVE_INFINITY;
  let state = "";
  for (let repeat = 0; repeat < (size >= 100_000 ? 1 : REPEATS); repeat++) {
    const started = performance.now();
    const count = await recount(proposal, set, sample, { now: proposal.deadline_at + 1, digester });
    best = Math.min(best, performance.now() - started);
    state = `${count.state} (${count.totals.votes} counted)`;
  }
  // An executor recounts an open proposal on every look: signatures it recovered before are not recovered again.
  let warm: number | null = null;
  if (size <= 1000) {
    const cache = new RecoveryCache();
    await recount(proposal, set, sample, { now: proposal.deadline_at + 1, digester, cache });
    const started = performance.now();
    await recount(proposal, set, sample, { now: proposal.deadline_at + 1, digester, cache });
    warm = performance.now() - started;
  }
  rows.push({
    votes: size,
    recount_ms: Math.round(best * 10) / 10,
    votes_per_s: Math.round(size / (best / 1000)),
    warm_recount_ms: warm === null ? null : Math.round(warm * 10) / 10,
    state,
  });
  log(
    `${size} votes: recount ${best.toFixed(1)} ms (${Math.round(size / (best / 1000))} votes/s)${warm === null ? "" : `, warm ${warm.toFixed(1)} ms`}: ${state}`,
  );
}

const thousand = rows.find((row) => row.votes === 1000);
const result = {
  bench: "gov",
  measured_at: new Date().toISOString(),
  machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version },
  method: "bench/README.md#gov",
  members: MEMBERS,
  tally: "quadratic",
  baseline: { recoveries: 1000, ms: Math.round(baselineMs * 10) / 10, per_s: Math.round(1000 / (baselineMs / 1000)) },
  member_table_ms: Math.round(tableMs * 10) / 10,
  rows,
  target: { recount_1000_votes_ms_under: 1000, met: thousand !== undefined && thousand.recount_ms < 1000 },
};
writeFileSync(join(import.meta.dir, "results", "gov.json"), `${JSON.stringify(result, null, 2)}\n`);
log("wrote bench/results/gov.json");
