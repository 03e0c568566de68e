/**
 * Webhooks in SQL (migrations/0015_webhooks.ts): the configured webhooks, their durable outbox
 * of events, the posting lease that lets one node of a cluster post a webhook's batches, the
 * POST log and the dead letters. The outbox is written in multi-row INSERTs (one per batch of
 * events); a POST's result (rows deleted or moved to the dead letters, status, log row) is one
 * transaction, so a crash repeats a batch (at-least-once) but never loses one.
 */
import { chunks, LIST_CHUNK, rowsPerInsert, type SqlContext } from "./_sql.ts";
import { insertRowsQuery } from "./bulk_insert.ts";
import type { Selectable } from "kysely";
import type { WebhooksTable } from "./webhook_tables.ts";

/** A stored webhook with its delivery status. */
export interface WebhookRecord {
  id: string;
  url: string;
  events: string[];
  /** Sealed (see core/manage/webhooks.ts). */
  secret: string;
  enabled: boolean;
  version: number;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
  leaseNode: string | null;
  leaseUntil: number;
  nextAttemptAt: number;
  /** Failed POSTs in a row. */
  failures: number;
  lastAttemptAt: number | null;
  lastSuccessAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  /** Events posted with a 2xx, and events given up (dead letters), since it was added. */
  delivered: number;
  dead: number;
}

/** A new webhook row. */
export interface NewWebhook {
  id: string;
  url: string;
  events: string[];
  secret: string;
  createdAt: number;
  createdBy: string;
}

/** Events waiting for one webhook (one row of the outbox). */
export interface WebhookOutboxRow {
  webhookId: string;
  /** When the oldest of them happened. */
  createdAt: number;
  events: number;
  /** The events, a JSON array. */
  body: string;
}

/** Outbox rows read for one POST. */
export interface WebhookBatchRow {
  seq: number;
  createdAt: number;
  events: number;
  body: string;
}

/** What one POST of a batch came to. */
export interface WebhookPostResult {
  webhookId: string;
  /** The batch's outbox rows, and how many events they hold. */
  seqs: number[];
  events: number;
  at: number;
  node: string;
  status: number | null;
  error: string | null;
  durationMs: number;
  /** delivered: rows deleted; retry: kept, tried at `nextAttemptAt`; dead: moved to dead letters. */
  outcome: "delivered" | "retry" | "dead";
  nextAttemptAt: number;
  failures: number;
  /** outcome "dead": the batch as posted (JSON array), its first event's time. */
  dead?: { body: string; firstEventAt: number; reason: string };
}

/** One logged POST. */
export interface WebhookAttemptRecord {
  id: number;
  at: number;
  node: string;
  events: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** One dead-lettered batch. */
export interface WebhookDeadLetterRecord {
  id: number;
  createdAt: number;
  firstEventAt: number;
  events: number;
  reason: string;
  replayedAt: number | null;
  /** JSON array of the events. */
  body: string;
}

/** What the webhook service (core/manage) and the dispatcher (core/events) take. */
export interface WebhookStore {
  listWebhooks(): Promise<WebhookRecord[]>;
  getWebhook(id: string): Promise<WebhookRecord | null>;
  /** False when the id is taken. */
  insertWebhook(webhook: NewWebhook): Promise<boolean>;
  /**
   * Changes url, events, secret or enabled when the row is at `ifVersion` (when given); the
   * version goes up by one. Returns the new version, or null when absent or at another version.
   */
  updateWebhook(
    id: string,
    change: { url?: string; events?: string[]; secret?: string; enabled?: boolean },
    by: { at: number; name: string; ifVersion?: number },
  ): Promise<number | null>;
  /** Removes the webhook, its waiting events, log and dead letters; false when absent. */
  deleteWebhook(id: string): Promise<boolean>;
  /** Stores events to post (one multi-row INSERT per chunk of rows). */
  enqueueWebhookEvents(rows: WebhookOutboxRow[]): Promise<void>;
  /** Takes or renews `node`'s lease on the webhook until `until`; false when another holds it. */
  claimWebhook(id: string, node: string, now: number, until: number): Promise<boolean>;
  /**
   * The oldest rows waiting for the webhook, as many as hold up to `limit` events (at least
   * one row, whatever its size).
   */
  webhookBatch(id: string, limit: number): Promise<WebhookBatchRow[]>;
  /** Records a POST: rows deleted / kept / dead-lettered, status, log row; one transaction. */
  recordWebhookPost(result: WebhookPostResult): Promise<void>;
  /** Events waiting for the webhook. */
  webhookBacklog(id: string): Promise<number>;
  /** The last `limit` POSTs, newest first. */
  webhookAttempts(id: string, limit: number): Promise<WebhookAttemptRecord[]>;
  /** Dead letters, newest first (replayed ones too, with `replayedAt`). */
  webhookDeadLetters(id: string, limit: number): Promise<WebhookDeadLetterRecord[]>;
  /**
   * Puts the events of the webhook's dead letters not yet replayed (only `ids`, when given) back
   * into its outbox, as new events to post, and marks the letters replayed; returns the events.
   */
  replayWebhookDeadLetters(id: string, now: number, ids?: number[]): Promise<number>;
}

function recordOf(row: Selectable<WebhooksTable>): WebhookRecord {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events),
    secret: row.secret,
    enabled: Number(row.enabled) === 1,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    updatedBy: row.updated_by,
    leaseNode: row.lease_node,
    leaseUntil: Number(row.lease_until),
    nextAttemptAt: Number(row.next_attempt_at),
    failures: Number(row.failures),
    lastAttemptAt: n(row.last_attempt_at),
    lastSuccessAt: n(row.last_success_at),
    lastStatus: n(row.last_status),
    lastError: row.last_error,
    delivered: Number(row.delivered),
    dead: Number(row.dead),
  };
}

const MAX_ERROR = 1_000;

/** The webhook repository on `ctx`. */
export function webhookRepository(ctx: SqlContext): WebhookStore {
  const { db } = ctx;
  return {
    listWebhooks: async () =>
      (await db.selectFrom("webhooks").selectAll().orderBy("id").execute()).map((r) => recordOf(r)),
    getWebhook: async (id) => {
      const row = await db.selectFrom("webhooks").selectAll().where("id", "=", id)
        .executeTakeFirst();
      return row ? recordOf(row) : null;
    },
    insertWebhook: (w) =>
      ctx.transaction(async (trx) => {
        const taken = await trx.selectFrom("webhooks").select("id").where("id", "=", w.id)
          .executeTakeFirst();
        if (taken) return false;
        await trx.insertInto("webhooks").values({
          id: w.id,
          url: w.url,
          events: JSON.stringify(w.events),
          secret: w.secret,
          enabled: 1,
          version: 1,
          created_at: w.createdAt,
          updated_at: w.createdAt,
          updated_by: w.createdBy,
          lease_node: null,
          last_attempt_at: null,
          last_success_at: null,
          last_status: null,
          last_error: null,
        }).execute();
        return true;
      }),
    updateWebhook: (id, change, by) =>
      ctx.transaction(async (trx) => {
        const row = await trx.selectFrom("webhooks").select("version").where("id", "=", id)
          .executeTakeFirst();
        if (!row) return null;
        const version = Number(row.version);
        if (by.ifVersion !== undefined && by.ifVersion !== version) return null;
        await trx.updateTable("webhooks").set({
          ...(change.url !== undefined ? { url: change.url } : {}),
          ...(change.events !== undefined ? { events: JSON.stringify(change.events) } : {}),
          ...(change.secret !== undefined ? { secret: change.secret } : {}),
          ...(change.enabled !== undefined ? { enabled: change.enabled ? 1 : 0 } : {}),
          version: version + 1,
          updated_at: by.at,
          updated_by: by.name,
        }).where("id", "=", id).where("version", "=", version).execute();
        return version + 1;
      }),
    deleteWebhook: (id) =>
      ctx.transaction(async (trx) => {
        const result = await trx.deleteFrom("webhooks").where("id", "=", id).executeTakeFirst();
        await trx.deleteFrom("webhook_outbox").where("webhook_id", "=", id).execute();
        await trx.deleteFrom("webhook_attempts").where("webhook_id", "=", id).execute();
        await trx.deleteFrom("webhook_dead_letters").where("webhook_id", "=", id).execute();
        return Number(result.numDeletedRows) > 0;
      }),
    enqueueWebhookEvents: async (rows) => {
      if (rows.length === 0) return;
      const values = rows.map((r) => ({
        webhook_id: r.webhookId,
        created_at: r.createdAt,
        events: r.events,
        body: r.body,
      }));
      for (const part of chunks(values, rowsPerInsert(ctx.dialect, 4))) {
        await db.executeQuery(insertRowsQuery(ctx.dialect, "webhook_outbox", part));
      }
    },
    claimWebhook: async (id, node, now, until) => {
      const result = await db.updateTable("webhooks")
        .set({ lease_node: node, lease_until: until })
        .where("id", "=", id)
        .where((eb) =>
          eb.or([
            eb("lease_node", "is", null),
            eb("lease_node", "=", node),
            eb("lease_until", "<", now),
          ])
        ).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    webhookBatch: async (id, limit) => {
      // Rows hold one flush each: a few cover `limit` events; read their sizes first.
      const heads = await ctx.limit(
        db.selectFrom("webhook_outbox").select(["seq", "events"])
          .where("webhook_id", "=", id).orderBy("seq"),
        Math.min(limit, 1_000),
      ).execute();
      const wanted: number[] = [];
      let events = 0;
      for (const h of heads) {
        if (wanted.length > 0 && events + Number(h.events) > limit) break;
        wanted.push(Number(h.seq));
        events += Number(h.events);
      }
      if (wanted.length === 0) return [];
      const rows = await db.selectFrom("webhook_outbox")
        .select(["seq", "created_at", "events", "body"]).where("seq", "in", wanted)
        .orderBy("seq").execute();
      return rows.map((r) => ({
        seq: Number(r.seq),
        createdAt: Number(r.created_at),
        events: Number(r.events),
        body: r.body,
      }));
    },
    recordWebhookPost: (r) =>
      ctx.transaction(async (trx) => {
        if (r.outcome !== "retry") {
          for (const part of chunks(r.seqs, LIST_CHUNK)) {
            await trx.deleteFrom("webhook_outbox").where("seq", "in", part).execute();
          }
        }
        if (r.outcome === "dead" && r.dead) {
          await trx.insertInto("webhook_dead_letters").values({
            webhook_id: r.webhookId,
            created_at: r.at,
            first_event_at: r.dead.firstEventAt,
            events: r.events,
            body: r.dead.body,
            reason: r.dead.reason.slice(0, MAX_ERROR),
            replayed_at: null,
          }).execute();
        }
        const current = await trx.selectFrom("webhooks").select(["delivered", "dead"])
          .where("id", "=", r.webhookId).executeTakeFirst();
        if (current) {
          await trx.updateTable("webhooks").set({
            failures: r.failures,
            next_attempt_at: r.nextAttemptAt,
            last_attempt_at: r.at,
            last_status: r.status,
            last_error: r.error?.slice(0, MAX_ERROR) ?? null,
            ...(r.outcome === "delivered"
              ? { last_success_at: r.at, delivered: Number(current.delivered) + r.events }
              : {}),
            ...(r.outcome === "dead" ? { dead: Number(current.dead) + r.events } : {}),
          }).where("id", "=", r.webhookId).execute();
        }
        await trx.insertInto("webhook_attempts").values({
          webhook_id: r.webhookId,
          at: r.at,
          node: r.node,
          events: r.events,
          status: r.status,
          error: r.error?.slice(0, MAX_ERROR) ?? null,
          duration_ms: Math.round(r.durationMs),
        }).execute();
      }),
    webhookBacklog: async (id) => {
      const row = await db.selectFrom("webhook_outbox")
        .select((eb) => eb.fn.sum<number | string | null>("events").as("n"))
        .where("webhook_id", "=", id).executeTakeFirst();
      return Number(row?.n ?? 0);
    },
    webhookAttempts: async (id, limit) => {
      const rows = await ctx.limit(
        db.selectFrom("webhook_attempts").selectAll().where("webhook_id", "=", id)
          .orderBy("id", "desc"),
        limit,
      ).execute();
      return rows.map((r) => ({
        id: Number(r.id),
        at: Number(r.at),
        node: r.node,
        events: Number(r.events),
        status: r.status === null ? null : Number(r.status),
        error: r.error,
        durationMs: Number(r.duration_ms),
      }));
    },
    webhookDeadLetters: async (id, limit) => {
      const rows = await ctx.limit(
        db.selectFrom("webhook_dead_letters").selectAll().where("webhook_id", "=", id)
          .orderBy("id", "desc"),
        limit,
      ).execute();
      return rows.map((r) => ({
        id: Number(r.id),
        createdAt: Number(r.created_at),
        firstEventAt: Number(r.first_event_at),
        events: Number(r.events),
        reason: r.reason,
        replayedAt: r.replayed_at === null ? null : Number(r.replayed_at),
        body: r.body,
      }));
    },
    replayWebhookDeadLetters: (id, now, ids) =>
      ctx.transaction(async (trx) => {
        let query = trx.selectFrom("webhook_dead_letters").select(["id", "body", "events"])
          .where("webhook_id", "=", id).where("replayed_at", "is", null);
        if (ids) query = query.where("id", "in", ids.length > 0 ? ids : [-1]);
        const letters = await query.orderBy("id").execute();
        let events = 0;
        for (const letter of letters) {
          // Back as one outbox row, dated now: a new max_age starts.
          await trx.insertInto("webhook_outbox").values({
            webhook_id: id,
            created_at: now,
            events: Number(letter.events),
            body: letter.body,
          }).execute();
          events += Number(letter.events);
          await trx.updateTable("webhook_dead_letters").set({ replayed_at: now })
            .where("id", "=", Number(letter.id)).execute();
        }
        return events;
      }),
  };
}
