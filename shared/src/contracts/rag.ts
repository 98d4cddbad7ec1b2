// Request and response contracts of the rag service (NATS services API, group x0.rag) and the case document it keeps.
import { z } from "zod";
import { ActionType, AnomalyKind, EpochMillis, Evidence, IncidentTarget, NodeId, ResultStatus, Severity } from "./schemas.ts";

/** The services-API group of the rag service. */
export const RAG_GROUP = "x0.rag";
/** The service name in $SRV discovery. */
export const RAG_SERVICE_NAME = "x0-rag";
/** Longest free-text query, in characters. */
export const RAG_MAX_QUERY_CHARS = 2000;
/** Most hits one search returns. */
export const RAG_MAX_K = 50;

/** How a case's repair ended: the last final result of its repair plans (restores and notifications aside). */
export const CaseOutcome = z
  .enum(["verified", "applied", "rolled_back", "failed", "none"])
  .describe("verified: effect observed; applied: nothing observable to check; rolled_back / failed; none: no repair plan ended.");
/** A case outcome. */
export type CaseOutcome = z.infer<typeof CaseOutcome>;

/** One plan made for the incident. */
export const CasePlan = z.object({
  plan_id: z.uuid(),
  rule: z.string().max(128),
  alternative: z.string().max(128).nullable().describe("The alternative the planner chose (null for restores and notifications it did not rank)."),
  actions: z.array(ActionType).max(256),
  created_at: EpochMillis,
});
/** A case plan. */
export type CasePlan = z.infer<typeof CasePlan>;

/** One executor result for a plan of the incident. */
export const CaseResult = z.object({
  plan_id: z.uuid(),
  status: ResultStatus,
  finished_at: EpochMillis,
  applied_at: EpochMillis.optional(),
  verified_at: EpochMillis.optional(),
  detail: z.string().max(1024).optional(),
});
/** A case result. */
export type CaseResult = z.infer<typeof CaseResult>;

/** The situation of an incident: what was seen, on what, where in the mesh. What similarity is computed from. */
export const CaseSituation = z.object({
  kind: AnomalyKind,
  severity: Severity.optional(),
  node: NodeId.optional().describe("The node that reported it."),
  metric: z.string().max(64).optional(),
  observed: z.number().optional(),
  score: z.number().optional().describe("The largest deviation score of its states."),
  target: IncidentTarget.optional(),
  evidence: z.array(Evidence).max(32).optional(),
  degrees: z.array(z.number().int().nonnegative()).max(2).optional().describe("Links per target node in the topology when the case was built."),
});
/** A case situation. */
export type CaseSituation = z.infer<typeof CaseSituation>;

/** One incident the loop handled, assembled from X0_EVENTS: what was seen, planned and observed, and how long it took. */
export const RagCase = CaseSituation.extend({
  v: z.literal(1),
  incident_id: z.uuid(),
  opened_at: EpochMillis.optional(),
  onset_at: EpochMillis.optional(),
  detected_at: EpochMillis.optional(),
  resolved_at: EpochMillis.optional(),
  resolution: z.enum(["cleared", "merged", "expired"]).optional(),
  states: z.number().int().nonnegative().describe("Incident states seen (opened, updates, resolved)."),
  plans: z.array(CasePlan).max(64),
  results: z.array(CaseResult).max(64),
  outcome: CaseOutcome,
  alternative: z.string().max(128).nullable().describe("The alternative of the repair plan the outcome belongs to."),
  mttd_ms: z.number().nonnegative().nullable().describe("detected_at - onset_at."),
  mttr_ms: z.number().nonnegative().nullable().describe("From onset (or opening) to the repair's verification (or application)."),
  flags: z.array(z.string().max(256)).max(16).describe("Inconsistencies in its events; the case keeps what is known."),
  first_seq: z.number().int().positive().describe("X0_EVENTS sequence of its first event."),
  last_seq: z.number().int().positive().describe("X0_EVENTS sequence of its latest event."),
});
/** A case. */
export type RagCase = z.infer<typeof RagCase>;

/** A runbook section: a markdown file's part under one heading. */
export const RunbookSection = z.object({
  file: z.string().max(256).describe("Path below the runbook folder."),
  heading: z.string().max(256),
  anchor: z.string().max(256).describe("GitHub-style anchor of the heading: cite as file#anchor."),
  text: z.string().max(16_384),
});
/** A runbook section. */
export type RunbookSection = z.infer<typeof RunbookSection>;

/** One search hit: a case or a runbook section, with its cosine similarity to the query. */
export const RagHit = z.discriminatedUnion("type", [
  z.object({ type: z.literal("case"), score: z.number(), case: RagCase }),
  z.object({ type: z.literal("runbook"), score: z.number(), runbook: RunbookSection }),
]);
/** A search hit. */
export type RagHit = z.infer<typeof RagHit>;

/** An embedder's identity: a different one means a different vector space, never mixed in one index. */
export const EmbedderIdentity = z.object({
  name: z.string().max(128),
  version: z.string().max(64),
  dimensions: z.number().int().positive(),
  method: z.string().max(256).describe("What it computes, in a few words (e.g. lexical: hashed word and character n-grams)."),
});
/** An embedder identity. */
export type EmbedderIdentity = z.infer<typeof EmbedderIdentity>;

const K = z.number().int().min(1).max(RAG_MAX_K).default(5);

/** Every endpoint: its subject below the group, what it does, request and response schemas. */
export const ragEndpoints = {
  search: {
    summary: "Cases and runbook sections similar to an incident (by id), a case situation, or a free-text question; best first.",
    request: z
      .object({
        incident_id: z.uuid().optional().describe("Search by a known case (its own case is left out of the hits)."),
        case: CaseSituation.optional().describe("Search by a situation, e.g. an open incident the planner is planning for."),
        text: z.string().min(1).max(RAG_MAX_QUERY_CHARS).optional().describe("Search by a question or note, lexically."),
        k: K.describe("Hits per kind of document."),
        include: z
          .array(z.enum(["cases", "runbooks"]))
          .min(1)
          .max(2)
          .default(["cases", "runbooks"]),
        min_score: z.number().min(-1).max(1).default(0).describe("Hits below this similarity are left out."),
      })
      .strict()
      .refine((request) => [request.incident_id, request.case, request.text].filter((x) => x !== undefined).length === 1, {
        message: "exactly one of incident_id, case or text",
      }),
    response: z.object({
      hits: z.array(RagHit).max(2 * RAG_MAX_K),
      query: z.enum(["incident", "case", "text"]),
      took_ms: z.number().nonnegative(),
    }),
  },
  get: {
    summary: "One case by incident id (indexed or still open).",
    request: z.object({ incident_id: z.uuid() }).strict(),
    response: z.object({ case: RagCase, indexed: z.boolean().describe("false: its incident is still open.") }),
  },
  stats: {
    summary: "Index size and memory, the embedders, and how far the index has read X0_EVENTS.",
    request: z.object({}).strict(),
    response: z.object({
      cases: z.number().int().nonnegative().describe("Cases in the index."),
      open_cases: z.number().int().nonnegative().describe("Cases of incidents still open (not yet indexed)."),
      flagged_cases: z.number().int().nonnegative(),
      runbook_sections: z.number().int().nonnegative(),
      memory_bytes: z.number().int().nonnegative().describe("Size of the saved case index (what it takes in memory, within a few percent)."),
      store_bytes: z.number().int().nonnegative().describe("Size of the case store on disk (cases.db and its write-ahead log)."),
      embedders: z.object({ case: EmbedderIdentity, text: EmbedderIdentity }),
      last_indexed_seq: z.number().int().nonnegative().describe("Last X0_EVENTS sequence read into the cases."),
      stream_last_seq: z.number().int().nonnegative().nullable().describe("Last sequence in X0_EVENTS when asked (null: unknown)."),
      saved_at: EpochMillis.nullable(),
    }),
  },
} as const;
/** An endpoint name (its subject below {@link RAG_GROUP}). */
export type RagEndpoint = keyof typeof ragEndpoints;
/** The request of an endpoint. */
export type RagRequest<E extends RagEndpoint> = z.input<(typeof ragEndpoints)[E]["request"]>;
/** The response of an endpoint. */
export type RagResponse<E extends RagEndpoint> = z.infer<(typeof ragEndpoints)[E]["response"]>;
