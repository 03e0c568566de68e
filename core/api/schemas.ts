/**
 * The JSON API's public shapes (docs/api.md): what `/api/v1` and `/healthz` answer and the query
 * parameters they take, as zod schemas. The routes type their answers with these, the CLI types
 * the same documents it prints (`queue --message`, `queue release|cancel`, `nodes --json`), the
 * islands type what they fetch, and tests/api_schemas_test.ts checks real answers against them
 * (strict: a field added, renamed or dropped fails). So a change in the store's row types cannot
 * change the public API unnoticed. The routes also hand them to @hono/zod-openapi, which makes
 * the OpenAPI document from them (`.meta({ id })` names the document's components). Every JSON
 * field is snake_case; core/manage/api_documents.ts maps the program's records onto them.
 *
 * The send endpoint's request body (`POST /api/v1/messages`) is the inject v1 document, which
 * every channel validates with the same code (core/inbound/inject_format.ts); it is not repeated
 * here. Imports nothing but zod, so browsers and the CLI can take it.
 */
import { z } from "zod";

const count = z.number().int().nonnegative();
const epochMs = z.number();

/** A page of a list: `next_cursor`, when present, fetches the next one (`?cursor=`). */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.strictObject({ items: z.array(item), next_cursor: z.string().optional() });
}

/** What a caller may do (core/manage/types.ts `Role`; tests/api_roles check they agree). */
export const RoleSchema = z.enum(["admin", "operator", "viewer", "sender"]).meta({ id: "Role" });

/** The `{id}` of a path. */
export const IdParams = z.object({ id: z.string().min(1).meta({ description: "The id" }) });

/** One problem with the input: the field's path as written in JSON ("rules.0.max"). */
export const FieldProblemSchema = z.strictObject({ path: z.string(), message: z.string() });

/**
 * Every error answer of the API: RFC 9457 problem details (`application/problem+json`).
 * `errors` lists each invalid field of a 400.
 */
export const ProblemSchema = z.strictObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  instance: z.string().optional(),
  errors: z.array(FieldProblemSchema).optional(),
}).meta({ id: "Problem" });
export type ProblemBody = z.infer<typeof ProblemSchema>;

/** A recipient's state. */
export const RecipientStateSchema = z.enum([
  "queued",
  "deferred",
  "delivered",
  "failed",
  "suppressed",
  "bounced",
]);

/** `GET /api/v1/queue`: recipients by state, units leased now. */
export const QueueCountsSchema = z.strictObject({
  queued: count,
  deferred: count,
  delivered: count,
  failed: count,
  suppressed: count,
  bounced: count,
  in_flight_units: count,
}).meta({ id: "QueueCounts" });
export type QueueCountsBody = z.infer<typeof QueueCountsSchema>;

/** One row of `GET /api/v1/messages`. */
export const MessageSummarySchema = z.strictObject({
  id: z.string(),
  sender: z.string(),
  created_at: epochMs,
  size: count,
  recipients: count,
  pending: count,
  failed: count,
}).meta({ id: "MessageSummary" });
export type MessageSummaryBody = z.infer<typeof MessageSummarySchema>;
/** `GET /api/v1/messages`: newest first, a page at a time. */
export const MessageListSchema = pageOf(MessageSummarySchema).meta({ id: "MessageList" });
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
}).meta({ id: "UnitStatus" });

/** `GET /api/v1/messages/:id` (and `fastmta queue --message ID`). */
export const MessageDetailSchema = z.strictObject({
  id: z.string(),
  sender: z.string(),
  created_at: epochMs,
  size: count,
  channel: z.string(),
  /** The API key that sent it (its name), else null. */
  api_key: z.string().nullable(),
  recipients: z.array(messageRecipient),
  attempts: z.array(messageAttempt),
  units: z.array(UnitStatusSchema),
  /** Recipients whose DSN is quarantined. */
  dsn_quarantined: z.array(z.string()),
}).meta({ id: "MessageDetail" });
export type MessageDetailBody = z.infer<typeof MessageDetailSchema>;

/** One bounce/complaint report matched to a message (issue 17). */
export const BounceReportSchema = z.strictObject({
  id: z.string(),
  received_at: epochMs,
  state: z.string(),
  kind: z.string().nullable(),
  recipient: z.string().nullable(),
  category: z.string().nullable(),
  status: z.string().nullable(),
  detail: z.string().nullable(),
  client_ip: z.string().nullable(),
});

/** `GET /api/v1/messages/:id/reports`: the reports kept for a message, newest first. */
export const BounceReportListSchema = z.strictObject({ reports: z.array(BounceReportSchema) });
export type BounceReportListBody = z.infer<typeof BounceReportListSchema>;

/** `POST /api/v1/messages/:id/release` (and `fastmta queue release ID`). */
export const ReleaseSchema = z.strictObject({ units: count, dsns: count }).meta({ id: "Release" });
export type ReleaseBody = z.infer<typeof ReleaseSchema>;

/** `DELETE /api/v1/messages/:id` (and `fastmta queue cancel ID`). */
export const CancelSchema = z.strictObject({ units: count, recipients: count }).meta({
  id: "Cancel",
});
export type CancelBody = z.infer<typeof CancelSchema>;

/** `POST /api/v1/messages`: 202 once the message is durable. */
export const SentSchema = z.strictObject({ id: z.string(), recipients: count }).meta({
  id: "Sent",
});
export type SentBody = z.infer<typeof SentSchema>;

/** One row of `GET /api/v1/attempts`. */
export const AttemptSchema = z.strictObject({
  at: epochMs,
  message_id: z.string(),
  recipient: z.string(),
  outcome: z.string(),
  code: z.number().int().nullable(),
  reply: z.string().nullable(),
  source_ip: z.string().nullable(),
  mx_host: z.string().nullable(),
  duration_ms: z.number(),
}).meta({ id: "Attempt" });
/** `GET /api/v1/attempts`: the newest `limit` attempts, newest first (no further pages). */
export const AttemptListSchema = pageOf(AttemptSchema).meta({ id: "AttemptList" });
export type AttemptListBody = z.infer<typeof AttemptListSchema>;

/** What a node says about itself in its heartbeat; any of it may be missing. */
export const NodeDetailsSchema = z.strictObject({
  queue: z.enum(["embedded", "rabbitmq"]),
  smtp: z.array(z.string()),
  admin: z.string(),
  config_version: count,
  objects_version: count,
  listener_errors: z.array(z.string()),
  in_flight: count,
  oldest_held_ms: z.number(),
  held_too_long: count,
}).partial().meta({ id: "NodeDetails" });

/** One node of `GET /api/v1/nodes` (and of `fastmta nodes --json`). */
export const NodeStatusSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  hostname: z.string().nullable(),
  pid: z.number().int().nullable(),
  started_at: epochMs,
  heartbeat_at: epochMs,
  stopped_at: epochMs.nullable(),
  live: z.boolean(),
  details: NodeDetailsSchema,
}).meta({ id: "NodeStatus" });
export type NodeStatusBody = z.infer<typeof NodeStatusSchema>;

/** `GET /api/v1/audit?kind=&object_id=&cursor=&limit=`. */
export const AuditListQuery = pageQuery(100, 1000).extend({
  kind: z.string().optional().meta({ description: "Only entries of this kind (vmta, pool, ...)" }),
  object_id: z.string().optional().meta({ description: "Only entries of this object" }),
});

/** `GET /api/v1/nodes[?all]`: this node's id and the nodes, live ones first. */
export const NodesSchema = z.strictObject({ self: z.string(), nodes: z.array(NodeStatusSchema) })
  .meta({ id: "Nodes" });
export type NodesBody = z.infer<typeof NodesSchema>;

/** One entry of the audit log (`GET /api/v1/audit`): who changed what, before and after. */
export const AuditEntrySchema = z.strictObject({
  id: z.number().int().positive(),
  at: epochMs,
  actor: z.string(),
  role: z.string(),
  channel: z.string(),
  kind: z.string(),
  object_id: z.string(),
  action: z.string().meta({ description: "create, update, delete, revert or a queue action" }),
  before: z.unknown(),
  after: z.unknown(),
  config_version: count,
}).meta({ id: "AuditEntry" });
export type AuditEntryBody = z.infer<typeof AuditEntrySchema>;

/** `GET /api/v1/audit`: newest first, a page at a time. */
export const AuditListSchema = pageOf(AuditEntrySchema).meta({ id: "AuditList" });

/** `GET /api/v1/audit/{id}` and its revert: the entry's number. */
export const AuditIdParams = z.object({
  id: z.string().regex(/^[1-9][0-9]{0,14}$/, "Expected an audit entry number")
    .transform(Number),
});

/** `GET /healthz`: 200 while the process is up; `status` "degraded" when the database is away. */
export const HealthSchema = z.strictObject({
  status: z.enum(["ok", "degraded"]),
  node: z.string(),
  database: z.strictObject({
    driver: z.string(),
    ok: z.boolean(),
    since: epochMs,
    error: z.string().nullable(),
    /** Writes fail for lack of space (disk full): not ready for mail. */
    storage_full: z.boolean(),
  }),
}).meta({ id: "Health" });
export type HealthBody = z.infer<typeof HealthSchema>;

/** One check of `GET /readyz`. */
export const ReadyCheckSchema = z.strictObject({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
}).meta({ id: "ReadyCheck" });
export type ReadyCheck = z.infer<typeof ReadyCheckSchema>;

/**
 * `GET /readyz`: 200 when the database, the queue backend, every listener and the data folder
 * are ready, else 503 with `not_ready` naming the checks that failed.
 */
export const ReadySchema = z.strictObject({
  status: z.enum(["ready", "not_ready"]),
  node: z.string(),
  not_ready: z.array(z.string()),
  checks: z.array(ReadyCheckSchema),
}).meta({ id: "Ready" });
export type ReadyBody = z.infer<typeof ReadySchema>;

/**
 * A page size from the query: a number clamped to 1…`max`; missing, empty or not a number is
 * `fallback`.
 */
function pageSize(fallback: number, max: number) {
  return z.string().optional().transform((v) =>
    Math.min(Math.max(Number(v ?? fallback) || fallback, 1), max)
  );
}

/** The query of every paged list: `cursor` is a previous page's `next_cursor` (opaque). */
export function pageQuery(fallback: number, max: number) {
  return z.object({
    cursor: z.string().optional().transform((v) => v || undefined)
      .meta({ description: "The `next_cursor` of the previous page" }),
    limit: pageSize(fallback, max).meta({ description: `Page size, 1 to ${max}` }),
  });
}

/** `GET /api/v1/messages?limit=&cursor=`. */
export const MessageListQuery = pageQuery(50, 500);

/** `GET /api/v1/attempts?limit=`. */
export const AttemptListQuery = z.object({
  limit: pageSize(100, 1000).meta({ description: "How many, 1 to 1000" }),
});

/** `GET /api/v1/nodes[?all]`: `all` (any value, or none) includes nodes that are down. */
export const NodesQuery = z.object({
  all: z.string().optional().transform((v) => v !== undefined),
});
