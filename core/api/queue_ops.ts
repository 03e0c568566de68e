/**
 * Queue operations' public shapes (issue 14): the unit filter (REST query parameters and bulk
 * request bodies alike), a unit as search answers it, a bulk job, a pause. The service in
 * core/manage validates its input with these, so the REST API, the CLI and the console name the
 * same fields in the same words. Imports nothing but zod.
 */
import { z } from "zod";

const text = (what: string) => z.string().min(1).max(320).meta({ description: what });
/** "90s", "2h", "3d" or a number of seconds (as durations in the config). */
const age = z.union([
  z.string().regex(/^\d+(ms|s|m|h|d)$/, 'expected e.g. "30m", "2h", "3d"'),
  z.number().int().nonnegative(),
]);

/** Unit states as search tells them apart. */
export const UnitStateSchema = z.enum(["queued", "deferred", "paused", "quarantined", "done"]);

/** Which units: every field that is set must match. */
export const QueueFilterSchema = z.strictObject({
  id: text("Message id").optional(),
  unit_id: text("Unit id (message × domain)").optional(),
  sender: text("Envelope sender").optional(),
  recipient: text("Envelope recipient").optional(),
  domain: text("Destination domain").optional(),
  pool: text("Pool the message was sent with").optional(),
  vmta: text("A vmta (source IP or hostname) that made an attempt").optional(),
  tag: text("The message's tag").optional(),
  state: UnitStateSchema.optional(),
  min_age: age.optional().meta({ description: "Accepted at least this long ago" }),
  max_age: age.optional().meta({ description: "Accepted at most this long ago" }),
  older_than: age.optional().meta({ description: "Same as min_age" }),
  newer_than: age.optional().meta({ description: "Same as max_age" }),
  reply: text(
    'The last reply: a code and/or enhanced status ("451", "4.7.1", "451 4.7.1": indexed) or ' +
      "other text in it (a scan: combine it with an indexed field)",
  ).optional(),
});
export type QueueFilter = z.infer<typeof QueueFilterSchema>;

/** A page request of a search. */
export const QueuePageSchema = z.strictObject({
  cursor: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
});

/** One delivery unit as search answers it. */
export const QueueUnitSchema = z.strictObject({
  unit_id: z.string(),
  message_id: z.string(),
  domain: z.string(),
  sender: z.string(),
  state: UnitStateSchema,
  attempts: z.number().int(),
  due_at: z.number(),
  created_at: z.number(),
  /** Why it waits unattempted (paused, backoff, cluster_pause, …). */
  held: z.string().nullable(),
  /** The last reply, or what holds it ("held by pause …"). */
  last_reply: z.string().nullable(),
  /** Why it is quarantined or held by an operator. */
  hold_reason: z.string().nullable(),
  pool: z.string().nullable(),
  tag: z.string().nullable(),
});
export type QueueUnitBody = z.infer<typeof QueueUnitSchema>;

export const QueueSearchSchema = z.strictObject({
  items: z.array(QueueUnitSchema),
  next_cursor: z.string().optional(),
});
export type QueueSearchBody = z.infer<typeof QueueSearchSchema>;

/** What an operator can do to units. */
export const QueueActionSchema = z.enum(["retry", "cancel", "bounce", "hold", "release"]);
export type QueueAction = z.infer<typeof QueueActionSchema>;

/** What one action on one message changed. */
export const ActionResultSchema = z.strictObject({
  message_id: z.string(),
  action: QueueActionSchema,
  /** Units the action changed (units in flight at a worker are left alone). */
  units: z.number().int().nonnegative(),
  /** cancel: open recipients failed (no DSN). */
  recipients: z.number().int().nonnegative().optional(),
});
export type ActionResultBody = z.infer<typeof ActionResultSchema>;

/** A bulk action request. */
export const BulkRequestSchema = z.strictObject({
  action: QueueActionSchema,
  filter: QueueFilterSchema,
  /** Only count what the filter selects (the preview); nothing is changed. */
  dry_run: z.boolean().default(false),
  /** Why (kept in the audit log and in the reply of held or cancelled units). */
  reason: z.string().max(500).optional(),
});
export type BulkRequest = z.input<typeof BulkRequestSchema>;

/** A bulk job and its progress. */
export const QueueJobSchema = z.strictObject({
  id: z.string(),
  action: QueueActionSchema,
  filter: QueueFilterSchema,
  state: z.enum(["running", "done", "failed"]),
  /** Units the filter selected when the job started. */
  total: z.number().int().nonnegative(),
  /** Units looked at so far. */
  done: z.number().int().nonnegative(),
  /** Units the action changed so far. */
  changed: z.number().int().nonnegative(),
  error: z.string().nullable(),
  created_by: z.string(),
  created_at: z.number(),
  updated_at: z.number(),
});
export type QueueJobBody = z.infer<typeof QueueJobSchema>;

/** A new pause: at least one of source, domain and tag. */
export const PauseInputSchema = z.strictObject({
  source_kind: z.enum(["vmta", "pool"]).optional(),
  source: z.string().min(1).max(255).optional(),
  domain: z.string().min(1).max(255).regex(
    /^(\*\.)?[A-Za-z0-9.-]+$/,
    "expected a domain or *.domain",
  ).optional(),
  tag: z.string().min(1).max(255).optional(),
  /** The destination site: one of its MX hosts, or *.domain (held after the MX lookup). */
  site: z.string().min(1).max(255).regex(
    /^(\*\.)?[A-Za-z0-9.-]+$/,
    "expected an MX host name or *.domain",
  ).optional(),
  /** When the pause ends by itself (ms since the epoch); absent: until removed. */
  until: z.number().int().positive().optional(),
  reason: z.string().max(500).optional(),
});
export type PauseInput = z.infer<typeof PauseInputSchema>;

export const PauseSchema = z.strictObject({
  id: z.string(),
  source_kind: z.enum(["vmta", "pool"]).nullable(),
  source: z.string().nullable(),
  domain: z.string().nullable(),
  tag: z.string().nullable(),
  site: z.string().nullable(),
  until: z.number().nullable(),
  reason: z.string().nullable(),
  /** "domain example.net, pool bulk" */
  description: z.string(),
  /** Whether it holds units now (false once `until` passed). */
  in_force: z.boolean(),
  created_by: z.string(),
  created_at: z.number(),
});
export type PauseBody = z.infer<typeof PauseSchema>;
