/**
 * Queue search for every face: the filter as the API writes it (snake_case, checked with the
 * zod schema of core/api/queue_ops.ts, errors naming the field) turned into the store's filter,
 * and keyset pages of units. A vmta is named by its source IP or hostname (config `vmtas`); ages
 * are durations before now.
 */
import {
  type QueueFilter,
  QueueFilterSchema,
  type QueueSearchBody,
  type QueueUnitBody,
} from "../api/queue_ops.ts";
import type { Config } from "../config/mod.ts";
import { parseDuration } from "../config/duration.ts";
import type { QueueSearchStore, UnitFilter, UnitRow, UnitSearchState } from "../store/mod.ts";
import { fieldIssues } from "./objects.ts";
import { type Actor, ForbiddenError, type Role, ValidationError } from "./types.ts";

/** Who may read the queue; who may act on it. */
export const READ_ROLES: readonly Role[] = ["admin", "operator", "viewer"];
export const ACT_ROLES: readonly Role[] = ["admin", "operator"];

/** Throws ForbiddenError unless `actor` has one of `roles`. */
export function allow(actor: Actor, roles: readonly Role[], what: string) {
  if (!roles.includes(actor.role)) throw new ForbiddenError(`Role "${actor.role}" may not ${what}`);
}

/** Checks a filter as written (body or query parameters); ValidationError naming the field. */
export function parseFilter(input: unknown): QueueFilter {
  const parsed = QueueFilterSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new ValidationError(
      fieldIssues(parsed.error).map((i) => ({
        ...i,
        path: i.path ? `filter.${i.path}` : "filter",
      })),
    );
  }
  return parsed.data;
}

/** The store's filter for `filter` at `now`. */
export function storeFilter(
  filter: QueueFilter,
  config: Pick<Config, "vmtas">,
  now: number,
): UnitFilter {
  const out: UnitFilter = {};
  if (filter.id !== undefined) out.messageId = filter.id;
  if (filter.unit_id !== undefined) out.unitIds = [filter.unit_id];
  if (filter.sender !== undefined) out.sender = filter.sender;
  if (filter.recipient !== undefined) out.recipient = filter.recipient;
  if (filter.domain !== undefined) out.domain = filter.domain;
  if (filter.pool !== undefined) out.pool = filter.pool;
  if (filter.tag !== undefined) out.tag = filter.tag;
  if (filter.state !== undefined) out.state = filter.state;
  if (filter.reply !== undefined) out.reply = filter.reply;
  if (filter.vmta !== undefined) {
    const vmta = config.vmtas.find((v) => v.ip === filter.vmta || v.hostname === filter.vmta);
    // An address that is no vmta (any more) may still be in the delivery log.
    out.sourceIp = vmta?.ip ?? filter.vmta;
  }
  const minAge = filter.min_age ?? filter.older_than;
  const maxAge = filter.max_age ?? filter.newer_than;
  if (minAge !== undefined) out.createdBefore = now - parseDuration(minAge);
  if (maxAge !== undefined) out.createdAfter = now - parseDuration(maxAge);
  return out;
}

/** The state search shows for a unit row. */
function stateOf(row: UnitRow): UnitSearchState {
  if (row.state !== "queued") return row.state;
  if (row.held !== null) return "paused";
  return row.attempts > 0 ? "deferred" : "queued";
}

/** A unit row as the API answers it. */
export function unitBody(row: UnitRow): QueueUnitBody {
  return {
    unit_id: row.id,
    message_id: row.message_id,
    domain: row.domain,
    sender: row.sender,
    state: stateOf(row),
    attempts: row.attempts,
    due_at: row.due_at,
    created_at: row.created_at,
    held: row.held,
    last_reply: row.last_reply,
    hold_reason: row.state === "quarantined" ? row.failure_reason : null,
    pool: row.pool,
    tag: row.tag,
  };
}

/** One page of units matching `input` (a filter as written), after `cursor`. */
export async function searchQueue(
  deps: { store: Pick<QueueSearchStore, "searchUnits">; config: Pick<Config, "vmtas"> },
  actor: Actor,
  input: unknown,
  page: { cursor?: string; limit?: number } = {},
): Promise<QueueSearchBody> {
  allow(actor, READ_ROLES, "read the queue");
  const filter = storeFilter(parseFilter(input), deps.config, Date.now());
  const limit = page.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ValidationError([{ path: "limit", message: "expected an integer from 1 to 1000" }]);
  }
  const rows = await deps.store.searchUnits(filter, { after: page.cursor, limit: limit + 1 });
  const items = rows.slice(0, limit).map(unitBody);
  return rows.length > limit ? { items, next_cursor: items[items.length - 1].unit_id } : { items };
}
