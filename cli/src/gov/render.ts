// Text views of `x0 gov`: the member set, the proposal list, one proposal with its recount, and a verification report.
import type { MemberSet, Proposal, Tally } from "@x0/shared";
import type { Count, VoteDigester } from "@x0/shared/governance";
import { renderTable } from "../table.ts";

const CHOICE_NAMES = { 1: "yes", 2: "no", 3: "abstain" } as const;

const power = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(3));
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

/** The member set, one member per row. */
export function renderMembers(set: MemberSet): string {
  const rows = set.members.map((member) => [member.address, String(member.weight), power(Math.sqrt(member.weight)), member.name]);
  return `space ${set.space} (chain id ${set.chain_id}), member set version ${set.version}\n${renderTable(
    [{ header: "ADDRESS" }, { header: "WEIGHT", align: "right" }, { header: "QUADRATIC", align: "right" }, { header: "NAME" }],
    rows,
  )}`;
}

/** Proposals, open ones first, then by deadline (latest first). */
export function renderProposals(proposals: readonly Proposal[], tallies: ReadonlyMap<string, Tally>): string {
  if (proposals.length === 0) return "no proposals";
  const sorted = [...proposals].sort((a, b) => Number(tallies.has(a.proposal_id)) - Number(tallies.has(b.proposal_id)) || b.deadline_at - a.deadline_at);
  const rows = sorted.map((proposal) => {
    const tally = tallies.get(proposal.proposal_id);
    return [
      proposal.proposal_id,
      proposal.kind,
      tally?.result ?? "open",
      iso(proposal.deadline_at),
      tally ? `${power(tally.totals.yes)}/${power(tally.totals.no)}/${power(tally.totals.abstain)}` : "",
      proposal.title,
    ];
  });
  return renderTable(
    [{ header: "ID" }, { header: "KIND" }, { header: "STATE" }, { header: "DEADLINE" }, { header: "YES/NO/ABSTAIN" }, { header: "TITLE" }],
    rows,
  );
}

/** One proposal: what it binds, its rules, and (with a recount) where the vote stands. */
export function renderProposal(proposal: Proposal, tally: Tally | undefined, count: Count | undefined): string {
  const lines = [
    `proposal ${proposal.proposal_id} (${proposal.kind}): ${proposal.title}`,
    `  hash      ${proposal.hash} (what votes sign)`,
    `  content   ${proposal.content}${proposal.plan ? ` = plan ${proposal.plan.plan_id}: ${proposal.plan.actions.map((action) => action.type).join(", ")} on ${proposal.plan.node}` : ""}`,
    `  rules     ${proposal.tally}, quorum ${proposal.quorum_bps / 100} %, yes above ${proposal.threshold_bps / 100} % of yes + no${proposal.revote ? ", votes may be replaced" : ""}`,
    `  members   version ${proposal.members_version}; deadline ${iso(proposal.deadline_at)}`,
  ];
  if (count) {
    lines.push(`  recount   ${count.state}: ${count.reason}`);
    for (const counted of count.counted)
      lines.push(
        `    ${counted.vote.message.from} ${CHOICE_NAMES[counted.vote.message.choice]} (power ${power(counted.power)})${counted.vote.message.reason ? `: ${counted.vote.message.reason}` : ""}`,
      );
  }
  if (tally) lines.push(`  tally     ${tally.result} at ${iso(tally.closed_at)} (${tally.decided}): ${tally.reason}`);
  return lines.join("\n");
}

/** A verification report: every vote with its signature and verdict, the recount, and whether the tally agrees. */
export function renderVerify(proposal: Proposal, count: Count, tally: Tally | undefined, digester: VoteDigester): string {
  const lines = [renderProposal(proposal, undefined, undefined), "  votes (EIP-712 digest, signature, verdict):"];
  for (const counted of count.counted) {
    lines.push(`    ${counted.vote.message.from} ${CHOICE_NAMES[counted.vote.message.choice]}: valid, power ${power(counted.power)}`);
    lines.push(`      digest ${digester.digest(counted.vote.message)} signature ${counted.vote.signature}`);
  }
  for (const refused of count.refused) lines.push(`    ${refused.vote.message.from}: not counted: ${refused.reason}`);
  lines.push(`  recount   ${count.state}: ${count.reason}`);
  if (!tally) lines.push("  tally     none yet (the proposal is open, or its planner has not closed it)");
  else if (tally.result === count.state) lines.push(`  tally     ${tally.result}: agrees with the recount`);
  else lines.push(`  tally     ${tally.result}: DISAGREES with the recount (${count.state}); do not trust it`);
  return lines.join("\n");
}
