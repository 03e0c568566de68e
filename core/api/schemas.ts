/**
 * The JSON API's public shapes (docs/api.md): what `/api/v1` and `/healthz` answer and the query
 * parameters they take, as zod schemas. The routes type their answers with these, the CLI types
 * the same documents it prints (`queue --message`, `queue release|cancel`, `nodes --json`), the
 * islands type what they fetch, and tests/api_schemas_test.ts checks real answers against them
 * (strict: a field added, renamed or dropped fails). So a change in the store's row types cannot
 * change the public API unnoticed.
 *
 * The send endpoint's request body (`POST /api/v1/messages`) is the inject v1 document, which
 * every channel validates with the same code (core/inbound/inject_format.ts); it is not repeated
 * here. Imports nothing but zod, so browsers and the CLI can take it.
 */
import { z } from "zod";

const count = z.number().int().nonnegative();
const epochMs = z.number();

/** Every error answer of the API (issue 14 will move to problem+json). */
export const ErrorSchema = z.strictObject({ error: z.string() });
export type ErrorBody = z.infer<typeof ErrorSchema>;

/** A recipient's state. */
export const RecipientStateSchema = z.enum([
  "queued",
  "deferred",
  "delivered",
  "failed",
  "suppressed",
]);

/** `GET /api/v1/queue`: recipients by state, units leased now. */
export const QueueCountsSchema = z.strictObject({
  queued: count,
  deferred: count,
  delivered: count,
  failed: count,
  suppressed: count,
  in_flight_units: count,
});
export type QueueCountsBody = z.infer<typeof QueueCountsSchema>;

/** One row of `GET /api/v1/messages`. */
export const MessageSummarySchema = z.strictObject({
  id: z.string(),
  sender: z.string(),
  createdAt: epochMs,
  size: count,
  recipients: count,
  pending: count,
  failed: count,
});
/** `GET /api/v1/messages`: newest first. */
export const MessageListSchema = z.array(MessageSummarySchema);
export type MessageListBody = z.infer<typeof MessageListSchema>;

const messageRecipient = z.strictObject({
  address: z.string(),
  state: RecipientStateSchema,
  attempts: count,
  last_code: z.number().int().nullable(),
  last_reply: z.string().nullable(),
});

const messageAttempt = z.strictObject({
  at: epochMs,
  recipient: z.string(),
  outcome: z.string(),
  code: z.number().int().nullable(),
  reply: z.string().nullable(),
  source_ip: z.string().nullable(),
  mx_host: z.string().nullable(),
  remote_ip: z.string().nullable(),
  tls: z.number().int(),
  tls_version: z.string().nullable(),
  tls_verified: z.number().int(),
  duration_ms: z.number(),
  reason: z.string().nullable(),
  site: z.string().nullable(),
  pool: z.string().nullable(),
  node_id: z.string().nullable(),
});

/** A delivery unit of a message, as the operator sees it. */
export const UnitStatusSchema = z.strictObject({
  id: z.string(),
  domain: z.string(),
  state: z.enum(["queued", "done", "quarantined"]),
  attempts: count,
  failures: count,
  failure_reason: z.string().nullable(),
  quarantined_at: epochMs.nullable(),
  due_at: epochMs,
});

/** `GET /api/v1/messages/:id` (and `fastmta queue --message ID`). */
export const MessageDetailSchema = z.strictObject({
  id: z.string(),
  sender: z.string(),
  createdAt: epochMs,
  size: count,
  channel: z.string(),
  recipients: z.array(messageRecipient),
  attempts: z.array(messageAttempt),
  units: z.array(UnitStatusSchema),
  /** Recipients whose DSN is quarantined. */
  dsn_quarantined: z.array(z.string()),
});
export type MessageDetailBody = z.infer<typeof MessageDetailSchema>;

/** `POST /api/v1/messages/:id/release` (and `fastmta queue release ID`). */
export const ReleaseSchema = z.strictObject({ units: count, dsns: count });
export type ReleaseBody = z.infer<typeof ReleaseSchema>;

/** `DELETE /api/v1/messages/:id` (and `fastmta queue cancel ID`). */
export const CancelSchema = z.strictObject({ units: count, recipients: count });
export type CancelBody = z.infer<typeof CancelSchema>;

/** `POST /api/v1/messages`: 202 once the message is durable. */
export const SentSchema = z.strictObject({ id: z.string(), recipients: count });
export type SentBody = z.infer<typeof SentSchema>;

/** One row of `GET /api/v1/attempts`. */
export const AttemptSchema = z.strictObject({
  at: epochMs,
  messageId: z.string(),
  recipient: z.string(),
  outcome: z.string(),
  code: z.number().int().nullable(),
  reply: z.string().nullable(),
  sourceIp: z.string().nullable(),
  mxHost: z.string().nullable(),
  durationMs: z.number(),
});
/** `GET /api/v1/attempts`: newest first. */
export const AttemptListSchema = z.array(AttemptSchema);
export type AttemptListBody = z.infer<typeof AttemptListSchema>;

/** What a node says about itself in its heartbeat; any of it may be missing. */
export const NodeDetailsSchema = z.strictObject({
  queue: z.enum(["embedded", "rabbitmq"]),
  smtp: z.array(z.string()),
  admin: z.string(),
  configVersion: count,
  objectsVersion: count,
  listenerErrors: z.array(z.string()),
  inFlight: count,
  oldestHeldMs: z.number(),
  heldTooLong: count,
}).partial();

/** One node of `GET /api/v1/nodes` (and of `fastmta nodes --json`). */
export const NodeStatusSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  hostname: z.string().nullable(),
  pid: z.number().int().nullable(),
  startedAt: epochMs,
  heartbeatAt: epochMs,
  stoppedAt: epochMs.nullable(),
  live: z.boolean(),
  details: NodeDetailsSchema,
});
export type NodeStatusBody = z.infer<typeof NodeStatusSchema>;

/** `GET /api/v1/nodes[?all]`: this node's id and the nodes, live ones first. */
export const NodesSchema = z.strictObject({ self: z.string(), nodes: z.array(NodeStatusSchema) });
export type NodesBody = z.infer<typeof NodesSchema>;

/** `GET /healthz`: 200 when the database answers, else 503 "degraded". */
export const HealthSchema = z.strictObject({
  status: z.enum(["ok", "degraded"]),
  node: z.string(),
  database: z.strictObject({
    driver: z.string(),
    ok: z.boolean(),
    since: epochMs,
    error: z.string().nullable(),
  }),
});
export type HealthBody = z.infer<typeof HealthSchema>;

/**
 * A page size from the query: a number clamped to 1…`max`; missing, empty or not a number is
 * `fallback`.
 */
function pageSize(fallback: number, max: number) {
  return z.string().optional().transform((v) =>
    Math.min(Math.max(Number(v ?? fallback) || fallback, 1), max)
  );
}

/** `GET /api/v1/messages?limit=&before=`: `before` (a message id) pages backwards. */
export const MessageListQuery = z.object({
  limit: pageSize(50, 500),
  before: z.string().optional().transform((v) => v || undefined),
});

/** `GET /api/v1/attempts?limit=`. */
export const AttemptListQuery = z.object({ limit: pageSize(100, 1000) });

/** `GET /api/v1/nodes[?all]`: `all` (any value, or none) includes nodes that are down. */
export const NodesQuery = z.object({
  all: z.string().optional().transform((v) => v !== undefined),
});
