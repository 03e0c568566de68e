/**
 * Handling failures and quarantine in SQL (migrations/0010_quarantine.ts, docs/quarantine.md).
 * A *handling failure* is an exception while one unit was being dispatched, delivered, settled
 * or consumed from the broker — our own trouble with that unit, not a remote reply (those are
 * delivery attempts). Each one is counted on the unit (`queue.failures`); at
 * `queue.quarantine_after` the unit is quarantined: `state = 'quarantined'`, which neither the
 * lease query nor the broker consumer takes, until an operator releases or cancels it.
 * DSN building counts the same way per recipient (`recipients.dsn_failures`).
 *
 * Failures are rare, so each is its own small statement, inside one transaction per call.
 * Counts are read and then written with the old value as a condition (not `failures + 1` in
 * the SET list: MySQL evaluates a SET list left to right, so a later CASE would see the new
 * value), which also makes concurrent recorders count each failure once.
 */
import type { Kysely } from "kysely";
import type { SqlContext } from "./_sql.ts";
import { applyTotals } from "./recipient_totals.ts";
import { OPEN_RECIPIENT_STATES, type Tables } from "./tables.ts";

/** One unit whose handling threw. */
export interface UnitFailure {
  unitId: string;
  messageId: string;
  /** The lease the unit was handled under (embedded queue: must still hold the unit). */
  leaseToken: string;
  /** Broker queue: the copy that failed (must still be the live one); else by lease token. */
  copy?: number;
  /** What threw, prefixed with the stage: "dispatch: Maximum call stack size exceeded". */
  reason: string;
}

/** What recording one failure did. */
export interface FailureRecord {
  unitId: string;
  messageId: string;
  /** False when the unit had moved on (lease lost, settled, cancelled): nothing was counted. */
  counted: boolean;
  /** Handling failures of the unit so far. */
  failures: number;
  /** The unit is quarantined now. */
  quarantined: boolean;
  reason: string;
  /** When it is due again (unquarantined failures only). */
  retryAt: number | null;
}

/** How failures are recorded. */
export interface RecordOptions {
  /** Failures that quarantine a unit (`queue.quarantine_after`). */
  limit: number;
  now: number;
}

/** A unit of a message, as the operator sees it. */
export interface UnitStatus {
  id: string;
  domain: string;
  state: "queued" | "done" | "quarantined";
  attempts: number;
  failures: number;
  failure_reason: string | null;
  quarantined_at: number | null;
  due_at: number;
}

/** A quarantined unit with what a new broker copy of it needs. */
export interface QuarantinedUnit {
  unitId: string;
  messageId: string;
  domain: string;
  sender: string;
  createdAt: number;
  attempts: number;
  /** The live copy now; a release makes it `copy + 1`. */
  copy: number;
  /** Recipients still open. */
  recipients: string[];
  /** The message's meta (JSON text): its priority, for the broker. */
  meta: string | null;
}

/** What a cancel changed. */
export interface CancelResult {
  units: number;
  recipients: number;
}

/** Why cancelled recipients failed (their `last_reply`). */
export const CANCELLED_REPLY = "cancelled by the operator";

/** Wait before a unit whose handling failed is due again: 1 s, 2 s, 4 s … at most 5 min. */
export function failureBackoffMs(failures: number): number {
  return Math.min(1_000 * 2 ** Math.max(0, failures - 1), 300_000);
}

/** Keeps a reason short enough for every dialect's text column and for a log line. */
function shortReason(reason: string): string {
  return reason.length > 1_000 ? `${reason.slice(0, 1_000)}…` : reason;
}

/** What the queues, delivery, DSN building and the operator's actions take (`store.quarantine`). */
export type QuarantineStore = Pick<SqlQuarantine, keyof SqlQuarantine>;

/** Quarantine state in the SQL store (a narrow role of it, see Store.quarantine). */
export class SqlQuarantine {
  #db: Kysely<Tables>;

  constructor(ctx: SqlContext) {
    this.#db = ctx.db;
  }

  /**
   * Counts one handling failure per entry, on the unit only if the failing lease (or copy)
   * still holds it: the unit is quarantined at `limit`, else its lease is cleared and it is
   * due again after {@link failureBackoffMs}. Rejects (nothing counted) if the database does.
   */
  async recordFailures(failures: UnitFailure[], options: RecordOptions): Promise<FailureRecord[]> {
    if (failures.length === 0) return [];
    const { limit, now } = options;
    return await this.#db.transaction().execute(async (trx) => {
      const records: FailureRecord[] = [];
      for (const f of failures) {
        const reason = shortReason(f.reason);
        const skipped = {
          unitId: f.unitId,
          messageId: f.messageId,
          counted: false,
          failures: 0,
          quarantined: false,
          reason,
          retryAt: null,
        };
        let select = trx.selectFrom("queue").select("failures")
          .where("id", "=", f.unitId).where("state", "=", "queued");
        select = f.copy === undefined
          ? select.where("lease_token", "=", f.leaseToken)
          : select.where("copy_seq", "=", f.copy);
        const row = await select.executeTakeFirst();
        if (!row) {
          records.push(skipped);
          continue;
        }
        const before = Number(row.failures);
        const count = before + 1;
        const quarantined = count >= limit;
        const retryAt = quarantined ? null : now + failureBackoffMs(count);
        const result = await trx.updateTable("queue").set({
          failures: count,
          failure_reason: reason,
          state: quarantined ? "quarantined" : "queued",
          quarantined_at: quarantined ? now : null,
          due_at: retryAt ?? now,
          lease_owner: null,
          lease_token: null,
          updated_at: now,
        }).where("id", "=", f.unitId).where("state", "=", "queued")
          .where("failures", "=", before).executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) {
          records.push(skipped);
          continue;
        }
        records.push({ ...skipped, counted: true, failures: count, quarantined, retryAt });
      }
      return records;
    });
  }

  /** Quarantines a unit at once, whatever its count (a broker copy nobody can read). */
  async quarantineNow(unitId: string, reason: string, now: number): Promise<boolean> {
    const result = await this.#db.updateTable("queue").set((eb) => ({
      failures: eb("failures", "+", 1),
      failure_reason: shortReason(reason),
      state: "quarantined",
      quarantined_at: now,
      lease_owner: null,
      lease_token: null,
      updated_at: now,
    })).where("id", "=", unitId).where("state", "=", "queued").executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** The units of a message, in order. */
  async units(messageId: string): Promise<UnitStatus[]> {
    const rows = await this.#db.selectFrom("queue")
      .select([
        "id",
        "domain",
        "state",
        "attempts",
        "failures",
        "failure_reason",
        "quarantined_at",
        "due_at",
      ])
      .where("message_id", "=", messageId).orderBy("id").execute();
    return rows.map((r) => ({
      id: r.id,
      domain: r.domain,
      state: r.state,
      attempts: Number(r.attempts),
      failures: Number(r.failures),
      failure_reason: r.failure_reason,
      quarantined_at: r.quarantined_at === null ? null : Number(r.quarantined_at),
      due_at: Number(r.due_at),
    }));
  }

  /** Recipients of a message whose DSN is quarantined. */
  async dsnQuarantined(messageId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom("recipients").select("address")
      .where("message_id", "=", messageId).where("dsn", "=", "quarantined").orderBy("id")
      .execute();
    return rows.map((r) => r.address);
  }

  /** Quarantined units in the whole queue. */
  async quarantinedCount(): Promise<number> {
    const row = await this.#db.selectFrom("queue")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "=", "quarantined").executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** A message's quarantined units with what a new broker copy needs. */
  async quarantined(messageId: string): Promise<QuarantinedUnit[]> {
    const units = await this.#db.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select([
        "queue.id as id",
        "queue.domain as domain",
        "queue.attempts as attempts",
        "queue.copy_seq as copy",
        "messages.sender as sender",
        "messages.created_at as created",
        "messages.meta as meta",
      ])
      .where("queue.message_id", "=", messageId).where("queue.state", "=", "quarantined")
      .orderBy("queue.id").execute();
    if (units.length === 0) return [];
    const recipients = await this.#db.selectFrom("recipients")
      .select(["unit_id", "address", "state"]).where("message_id", "=", messageId)
      .orderBy("id").execute();
    return units.map((u) => ({
      unitId: u.id,
      messageId,
      domain: u.domain,
      sender: u.sender,
      createdAt: Number(u.created),
      attempts: Number(u.attempts),
      copy: Number(u.copy),
      recipients: recipients.filter((r) => r.unit_id === u.id && OPEN_RECIPIENT_STATES.has(r.state))
        .map((r) => r.address),
      meta: u.meta,
    }));
  }

  /**
   * Releases quarantined units (each only if still at `copy`): due now, failure count reset,
   * the live copy moved on to `copy + 1`; also returns quarantined DSNs of `messageId` to
   * pending. Returns the units released. With `publish` (the broker queue: the units' next
   * copies), it runs inside the transaction after the conditional updates, with only the units
   * this caller released: a concurrent release waits on the rows, then finds them released and
   * publishes nothing; a failed publish rolls the release back.
   */
  async release<U extends { unitId: string; copy: number }>(
    messageId: string,
    units: U[],
    now: number,
    publish?: (released: U[]) => Promise<void>,
  ): Promise<number> {
    const ordered = [...units].sort((a, b) => a.unitId < b.unitId ? -1 : 1);
    return await this.#db.transaction().execute(async (trx) => {
      const released: U[] = [];
      for (const u of ordered) {
        const result = await trx.updateTable("queue").set({
          state: "queued",
          failures: 0,
          quarantined_at: null,
          due_at: now,
          lease_owner: null,
          lease_token: null,
          copy_seq: u.copy + 1,
          updated_at: now,
        }).where("id", "=", u.unitId).where("state", "=", "quarantined")
          .where("copy_seq", "=", u.copy).executeTakeFirst();
        if (Number(result.numUpdatedRows) > 0) released.push(u);
      }
      await trx.updateTable("recipients").set({ dsn: "pending", dsn_failures: 0 })
        .where("message_id", "=", messageId).where("dsn", "=", "quarantined").execute();
      if (publish && released.length > 0) await publish(released);
      return released.length;
    });
  }

  /**
   * Cancels what is left of a message: its open units are done (a lease or broker copy still
   * out finds them moved on), its open recipients failed with {@link CANCELLED_REPLY} and no
   * DSN, and quarantined DSNs are skipped.
   */
  async cancel(messageId: string, now: number): Promise<CancelResult> {
    return await this.#db.transaction().execute(async (trx) => {
      const units = await trx.updateTable("queue").set((eb) => ({
        state: "done",
        quarantined_at: null,
        lease_owner: null,
        lease_token: null,
        copy_seq: eb("copy_seq", "+", 1),
        last_reply: CANCELLED_REPLY,
        updated_at: now,
      })).where("message_id", "=", messageId).where("state", "in", ["queued", "quarantined"])
        .executeTakeFirst();
      const recipients = await trx.updateTable("recipients").set({
        state: "failed",
        last_code: null,
        last_reply: CANCELLED_REPLY,
        updated_at: now,
      }).where("message_id", "=", messageId).where("state", "in", ["queued", "deferred"])
        .executeTakeFirst();
      await trx.updateTable("recipients").set({ dsn: "skipped" })
        .where("message_id", "=", messageId).where("dsn", "=", "quarantined").execute();
      await applyTotals(trx, new Map([["failed", Number(recipients.numUpdatedRows)]]));
      return {
        units: Number(units.numUpdatedRows),
        recipients: Number(recipients.numUpdatedRows),
      };
    });
  }

  /**
   * Counts one DSN-building failure on each recipient claimed by `token`: back to pending, or
   * 'quarantined' at `limit`. Returns how many were quarantined now.
   */
  async recordDsnFailures(recipientIds: number[], token: string, limit: number): Promise<number> {
    if (recipientIds.length === 0) return 0;
    return await this.#db.transaction().execute(async (trx) => {
      // Only rows still claimed by `token` (a report may have finished some before it threw).
      const rows = await trx.selectFrom("recipients").select(["id", "dsn_failures"])
        .where("id", "in", recipientIds).where("dsn", "=", token).execute();
      let quarantined = 0;
      for (const row of rows) {
        const count = Number(row.dsn_failures) + 1;
        const dsn = count >= limit ? "quarantined" : "pending";
        if (dsn === "quarantined") quarantined++;
        await trx.updateTable("recipients").set({ dsn, dsn_failures: count })
          .where("id", "=", Number(row.id)).execute();
      }
      return quarantined;
    });
  }
}
