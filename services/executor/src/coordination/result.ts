// The coordinator's result of a plan carried out by several node executors, from its final coordination records: each
// step's status as its node reported it (naming the node), each node's part, and which node failed and why.
import { type ActionResult, type ActionResultFields, clipDetail, type Plan, type TxnParticipant } from "@x0/shared";
import type { TxnState } from "./protocol.ts";

/** Whether a participant reported a change it has not undone. */
const kept = (participant: TxnParticipant) => participant.reports.some((report) => report.applied_at !== undefined && report.status !== "rolled_back");

/** The result status and detail of a plan in a final phase. */
function verdict(record: TxnState): { status: ActionResult["status"]; detail: string } {
  switch (record.phase) {
    case "verified": {
      const parts = record.participants.filter((participant) => participant.steps.length > 0);
      return {
        status: "verified",
        detail: `effect observed; ${parts.map((participant) => `${participant.node} applied ${participant.steps.length}`).join(", ")}`,
      };
    }
    case "applied":
      return { status: "applied", detail: record.detail ?? "applied; nothing observable to verify" };
    default: {
      const undone = record.participants.filter(
        (participant) => participant.status === "rolled_back" && participant.reports.some((report) => report.applied_at !== undefined),
      );
      const notUndone = record.participants.filter(
        (participant) => participant.status === "rollback_failed" || (participant.status !== "rolled_back" && kept(participant)),
      );
      const rollback = [
        undone.length > 0 ? `rolled back: ${undone.map((participant) => participant.node).join(", ")}` : "",
        notUndone.length > 0 ? `not rolled back: ${notUndone.map((participant) => `${participant.node} (${participant.detail})`).join(", ")}` : "",
        record.detail ?? "",
      ].filter(Boolean);
      const ok = notUndone.length === 0;
      return {
        status: record.abort?.cause === "verification" && ok ? "rolled_back" : "failed",
        detail: [record.abort?.detail ?? "aborted", ...(rollback.length > 0 ? rollback : ["nothing to roll back"])].join("; "),
      };
    }
  }
}

/**
 * The result of `plan` from its records in a final phase (`prefix` goes first in the detail, e.g. a takeover). Steps a node
 * never reported are `skipped`; every step's detail names its node.
 */
export function coordinatedResult(plan: Plan, record: TxnState, prefix = ""): ActionResultFields {
  const { status, detail } = verdict(record);
  return {
    status,
    steps: plan.actions.map((action, index) => {
      const owner = record.participants.find((participant) => participant.steps.includes(index));
      const report = owner?.reports.find((candidate) => candidate.index === index);
      const unreported = !report || report.status === "would_apply";
      return {
        type: action.type,
        params: action.params,
        status: unreported ? "skipped" : report.status,
        detail: clipDetail(`${owner?.node ?? plan.node}: ${unreported ? "not run" : report.detail || action.reason}`),
        ...(report?.applied_at !== undefined ? { applied_at: report.applied_at } : {}),
      };
    }),
    started_at: record.created_at,
    applied_at: record.applied_at,
    verified_at: record.verified_at,
    verification: record.verification,
    detail: [prefix, detail].filter(Boolean).join("; "),
    participants: record.participants.map((participant) => ({
      node: participant.node,
      status: participant.status,
      detail: participant.detail || (participant.status === "pending" ? "never answered" : participant.status),
    })),
  };
}
