/**
 * The SQL store on Kysely: one implementation for every dialect; the few places where SQL
 * differs (row locking when leasing) branch on `dialect`. Every write that must be atomic is
 * one transaction, and every hot-path write takes a batch (group commit).
 */
import type { Insertable, Kysely, Transaction } from "kysely";
import { Migrator } from "kysely/migration";
import { type Dialect, migrationsFor } from "../../migrations/mod.ts";
import { type LeasedUnit, type NewMessage, type UnitOutcome, unitsOf } from "../queue/contracts.ts";
import type {
  AttemptsTable,
  MessagesTable,
  QueueTable,
  RecipientsTable,
  Tables,
} from "./tables.ts";
import type {
  AttemptRow,
  DkimKeyRecord,
  DsnClaim,
  DsnWork,
  LeaseRequest,
  MessageStatus,
  MessageSummary,
  QueueCounts,
  SettleOptions,
  ShapingRuleRow,
  SmtpUser,
  SmtpUserUpdate,
  Store,
  Suppression,
} from "./store.ts";
import * as smtpUsers from "./smtp_users.ts";

const INSERT_CHUNK = 400;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export { splitByDomain } from "../queue/contracts.ts";

/** A `Store` on any Kysely dialect. */
export class SqlStore implements Store {
  readonly dialect: Dialect;
  readonly db: Kysely<Tables>;
  #onClose: () => Promise<void>;

  constructor(db: Kysely<Tables>, dialect: Dialect, onClose: () => Promise<void>) {
    this.db = db;
    this.dialect = dialect;
    this.#onClose = onClose;
  }

  async migrate(): Promise<string[]> {
    const migrations = migrationsFor(this.dialect);
    const migrator = new Migrator({
      db: this.db,
      provider: { getMigrations: () => Promise.resolve(migrations) },
      // Migration numbers are handed out per issue, so e.g. 0002 can land after 0006 has run.
      allowUnorderedMigrations: true,
    });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
  }

  async insertMessages(messages: NewMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const messageRows: Insertable<MessagesTable>[] = [];
    const unitRows: Insertable<QueueTable>[] = [];
    const recipientRows: Insertable<RecipientsTable>[] = [];
    for (const m of messages) {
      messageRows.push({
        id: m.id,
        sender: m.sender,
        created_at: m.receivedAt,
        size: m.body.byteLength,
        recipient_count: m.recipients.length,
        channel: m.channel,
        client_ip: m.clientIp,
        meta: m.meta ? JSON.stringify(m.meta) : null,
        body: m.body,
      });
      for (const { unitId, domain, recipients: addresses } of unitsOf(m)) {
        unitRows.push({
          id: unitId,
          message_id: m.id,
          domain,
          state: "queued" as const,
          due_at: m.receivedAt,
          attempts: 0,
          lease_owner: null,
          lease_token: null,
          created_at: m.receivedAt,
          updated_at: m.receivedAt,
          last_reply: null,
        });
        for (const address of addresses) {
          recipientRows.push({
            unit_id: unitId,
            message_id: m.id,
            address,
            state: "queued" as const,
            attempts: 0,
            last_code: null,
            last_reply: null,
            updated_at: m.receivedAt,
          });
        }
      }
    }
    await this.db.transaction().execute(async (trx) => {
      // Bodies can be large: a few per statement keeps statements within parameter limits.
      for (const part of chunks(messageRows, 50)) {
        await trx.insertInto("messages").values(part).execute();
      }
      for (const part of chunks(unitRows, INSERT_CHUNK)) {
        await trx.insertInto("queue").values(part).execute();
      }
      for (const part of chunks(recipientRows, INSERT_CHUNK)) {
        await trx.insertInto("recipients").values(part).execute();
      }
    });
  }

  async leaseDue(request: LeaseRequest): Promise<LeasedUnit[]> {
    const { owner, token, now, leaseMs, limit } = request;
    return await this.db.transaction().execute(async (trx) => {
      let select = trx.selectFrom("queue").select("id")
        .where("state", "=", "queued").where("due_at", "<=", now)
        .orderBy("due_at").limit(limit);
      if (this.dialect === "postgres" || this.dialect === "mysql") {
        select = select.forUpdate().skipLocked();
      }
      const ids = (await select.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      await trx.updateTable("queue")
        .set((eb) => ({
          lease_owner: owner,
          lease_token: token,
          due_at: now + leaseMs,
          attempts: eb("attempts", "+", 1),
          updated_at: now,
        }))
        .where("id", "in", ids).execute();
      return await this.#loadUnits(trx, ids, token);
    });
  }

  async #loadUnits(trx: Transaction<Tables>, ids: string[], token: string): Promise<LeasedUnit[]> {
    const units = await trx.selectFrom("queue")
      .innerJoin("messages", "messages.id", "queue.message_id")
      .select([
        "queue.id as id",
        "queue.message_id as message_id",
        "queue.domain as domain",
        "queue.attempts as attempts",
        "messages.sender as sender",
        "messages.created_at as created_at",
        "messages.meta as meta",
      ])
      .where("queue.id", "in", ids).orderBy("queue.due_at").execute();
    const recipients = await trx.selectFrom("recipients").select(["unit_id", "address"])
      .where("unit_id", "in", ids).where("state", "in", ["queued", "deferred"]).execute();
    const byUnit = new Map<string, string[]>();
    for (const r of recipients) {
      let list = byUnit.get(r.unit_id);
      if (!list) byUnit.set(r.unit_id, list = []);
      list.push(r.address);
    }
    return units.map((u) => ({
      v: 1 as const,
      unitId: u.id,
      messageId: u.message_id,
      domain: u.domain,
      sender: u.sender,
      attempts: Number(u.attempts),
      createdAt: Number(u.created_at),
      leaseToken: token,
      recipients: byUnit.get(u.id) ?? [],
      meta: parseMeta(u.meta),
    }));
  }

  async settle(outcomes: UnitOutcome[], options: SettleOptions = {}): Promise<number> {
    const { claim, nodeId = null } = options;
    if (outcomes.length === 0) return 0;
    let lost = 0;
    await this.db.transaction().execute(async (trx) => {
      const attemptRows: Insertable<AttemptsTable>[] = [];
      for (const o of outcomes) {
        const common = {
          message_id: o.messageId,
          unit_id: o.unitId,
          domain: o.domain,
          node_id: o.nodeId ?? nodeId,
          site: o.site ?? null,
          pool: o.pool ?? null,
        };
        for (const t of o.tries ?? []) {
          attemptRows.push({
            ...common,
            at: t.at,
            recipient: "",
            outcome: "tried",
            code: t.code,
            reply: t.reply,
            source_ip: t.sourceIp,
            mx_host: t.mxHost,
            remote_ip: t.remoteIp,
            tls: 0,
            tls_version: null,
            tls_verified: 0,
            duration_ms: Math.round(t.durationMs),
            reason: null,
            category: null,
          });
        }
        for (const r of o.results) {
          attemptRows.push({
            ...common,
            at: o.at,
            recipient: r.address,
            outcome: r.outcome,
            code: r.code,
            reply: r.reply,
            source_ip: o.sourceIp,
            mx_host: o.mxHost,
            remote_ip: o.remoteIp,
            tls: o.tls ? 1 : 0,
            tls_version: o.tlsVersion ?? null,
            tls_verified: o.tlsVerified ? 1 : 0,
            duration_ms: Math.round(o.durationMs),
            reason: r.outcome === "deferred" ? o.reason ?? null : null,
            category: r.category ?? null,
          });
        }
      }
      for (const part of chunks(attemptRows, INSERT_CHUNK)) {
        await trx.insertInto("attempts").values(part).execute();
      }
      for (const o of outcomes) {
        const copy = claim?.(o);
        const updated = o.held ? await holdUnit(trx, o, copy) : await finishUnit(trx, o, copy);
        if (!updated) {
          // The lease expired and another worker took the unit: its outcome wins; ours is
          // only logged (the attempts rows above).
          lost++;
          continue;
        }
        // Recipients sharing one reply (the usual case: the DATA reply) take one statement.
        const groups = new Map<string, { r: typeof o.results[number]; addresses: string[] }>();
        for (const r of o.results) {
          const key = `${r.outcome}\u0000${r.code}\u0000${r.reply}\u0000${r.category}`;
          const group = groups.get(key);
          if (group) group.addresses.push(r.address);
          else groups.set(key, { r, addresses: [r.address] });
        }
        for (const { r, addresses } of groups.values()) {
          await trx.updateTable("recipients")
            .set((eb) => ({
              state: r.outcome,
              attempts: eb("attempts", "+", 1),
              last_code: r.code,
              last_reply: r.reply,
              updated_at: o.at,
              category: r.category ?? null,
              // A final failure owes the sender a DSN: due from this same transaction on.
              ...(r.outcome === "failed" || r.outcome === "suppressed" ? { dsn: "pending" } : {}),
            }))
            .where("unit_id", "=", o.unitId).where("address", "in", addresses).execute();
        }
      }
    });
    return lost;
  }

  async releaseLeases(owner: string, now: number): Promise<number> {
    const result = await this.db.updateTable("queue")
      .set({ due_at: now, lease_owner: null, lease_token: null })
      .where("state", "=", "queued").where("lease_owner", "=", owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async nextDueAt(): Promise<number | null> {
    const row = await this.db.selectFrom("queue").select("due_at")
      .where("state", "=", "queued").orderBy("due_at").limit(1).executeTakeFirst();
    return row ? Number(row.due_at) : null;
  }

  async readBody(messageId: string): Promise<Uint8Array | null> {
    const row = await this.db.selectFrom("messages").select("body")
      .where("id", "=", messageId).executeTakeFirst();
    return row ? new Uint8Array(row.body) : null;
  }

  async counts(now: number): Promise<QueueCounts> {
    const byState = await this.db.selectFrom("recipients")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
      .groupBy("state").execute();
    const inFlight = await this.db.selectFrom("queue")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "=", "queued").where("lease_owner", "is not", null)
      .where("due_at", ">", now).executeTakeFirst();
    const counts: QueueCounts = {
      queued: 0,
      deferred: 0,
      delivered: 0,
      failed: 0,
      suppressed: 0,
      in_flight_units: Number(inFlight?.n ?? 0),
    };
    for (const row of byState) counts[row.state] = Number(row.n);
    return counts;
  }

  async messageStatus(messageId: string): Promise<MessageStatus | null> {
    const message = await this.db.selectFrom("messages")
      .select(["id", "sender", "created_at", "size", "channel"])
      .where("id", "=", messageId).executeTakeFirst();
    if (!message) return null;
    const recipients = await this.db.selectFrom("recipients")
      .select(["address", "state", "attempts", "last_code", "last_reply"])
      .where("message_id", "=", messageId).orderBy("id").execute();
    const attempts = await this.db.selectFrom("attempts")
      .select([
        "at",
        "recipient",
        "outcome",
        "code",
        "reply",
        "source_ip",
        "mx_host",
        "remote_ip",
        "tls",
        "tls_version",
        "tls_verified",
        "duration_ms",
        "reason",
        "site",
        "pool",
        "node_id",
      ])
      .where("message_id", "=", messageId).orderBy("id").execute();
    return {
      id: message.id,
      sender: message.sender,
      createdAt: Number(message.created_at),
      size: Number(message.size),
      channel: message.channel,
      recipients: recipients.map((r) => ({ ...r, attempts: Number(r.attempts) })),
      attempts: attempts.map((a) => ({
        ...a,
        at: Number(a.at),
        tls: Number(a.tls),
        tls_verified: Number(a.tls_verified),
        duration_ms: Number(a.duration_ms),
      })),
    };
  }

  addSmtpUser(user: SmtpUser): Promise<void> {
    return smtpUsers.addSmtpUser(this.db, user);
  }

  getSmtpUser(username: string): Promise<SmtpUser | null> {
    return smtpUsers.getSmtpUser(this.db, username);
  }

  listSmtpUsers(): Promise<SmtpUser[]> {
    return smtpUsers.listSmtpUsers(this.db);
  }

  updateSmtpUser(username: string, update: SmtpUserUpdate): Promise<boolean> {
    return smtpUsers.updateSmtpUser(this.db, username, update);
  }

  removeSmtpUser(username: string): Promise<boolean> {
    return smtpUsers.removeSmtpUser(this.db, username);
  }

  async listShapingRules(): Promise<ShapingRuleRow[]> {
    const rows = await this.db.selectFrom("shaping_rules")
      .select(["pattern", "rule", "updated_at"]).orderBy("pattern").execute();
    return rows.map((r) => {
      let rule: unknown;
      try {
        rule = JSON.parse(r.rule);
      } catch {
        rule = r.rule; // Left to the policy to report as invalid.
      }
      return { pattern: r.pattern, rule, updatedAt: Number(r.updated_at) };
    });
  }

  async putShapingRule(pattern: string, rule: unknown, now: number): Promise<void> {
    // Delete + insert: portable across dialects, unlike each one's upsert syntax.
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("shaping_rules").where("pattern", "=", pattern).execute();
      await trx.insertInto("shaping_rules")
        .values({ pattern, rule: JSON.stringify(rule), updated_at: now }).execute();
    });
  }

  async deleteShapingRule(pattern: string): Promise<boolean> {
    const result = await this.db.deleteFrom("shaping_rules").where("pattern", "=", pattern)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async releaseHeld(reason: string, now: number): Promise<number> {
    const result = await this.db.updateTable("queue")
      .set({ due_at: now, held: null })
      .where("state", "=", "queued").where("held", "=", reason)
      .where("lease_owner", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deliveredSince(since: number): Promise<{ sourceIp: string; count: number }[]> {
    const rows = await this.db.selectFrom("attempts")
      .select((eb) => ["source_ip", eb.fn.count<number>("unit_id").distinct().as("n")])
      .where("at", ">=", since).where("outcome", "=", "delivered")
      .where("source_ip", "is not", null)
      .groupBy("source_ip").execute();
    return rows.map((r) => ({ sourceIp: r.source_ip!, count: Number(r.n) }));
  }

  async suppressions(addresses: string[], now: number): Promise<Suppression[]> {
    if (addresses.length === 0) return [];
    const wanted = [...new Set(addresses.map((a) => a.toLowerCase()))];
    const out: Suppression[] = [];
    for (const part of chunks(wanted, INSERT_CHUNK)) {
      const rows = await this.db.selectFrom("suppressions").selectAll()
        .where("address", "in", part).where("expires_at", ">", now).execute();
      out.push(...rows.map(suppressionOf));
    }
    return out;
  }

  async addSuppressions(entries: Suppression[]): Promise<void> {
    if (entries.length === 0) return;
    const byAddress = new Map(entries.map((e) => [e.address.toLowerCase(), e]));
    const rows = [...byAddress].map(([address, e]) => ({
      address,
      category: e.category,
      code: e.code,
      reason: e.reason,
      message_id: e.messageId,
      created_at: e.createdAt,
      expires_at: e.expiresAt,
    }));
    // Delete then insert: a portable upsert.
    await this.db.transaction().execute(async (trx) => {
      for (const part of chunks(rows, INSERT_CHUNK)) {
        await trx.deleteFrom("suppressions").where("address", "in", part.map((r) => r.address))
          .execute();
        await trx.insertInto("suppressions").values(part).execute();
      }
    });
  }

  async removeSuppression(address: string): Promise<boolean> {
    const result = await this.db.deleteFrom("suppressions")
      .where("address", "=", address.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listSuppressions(now: number, limit: number): Promise<Suppression[]> {
    const rows = await this.db.selectFrom("suppressions").selectAll()
      .where("expires_at", ">", now).orderBy("created_at", "desc").limit(limit).execute();
    return rows.map(suppressionOf);
  }

  async claimDsns(claim: DsnClaim): Promise<DsnWork[]> {
    let select = this.db.selectFrom("recipients").select("id").where("dsn", "=", "pending");
    if (claim.messageIds) {
      if (claim.messageIds.length === 0) return [];
      select = select.where("message_id", "in", claim.messageIds);
    }
    const ids = (await select.orderBy("id").limit(claim.limit).execute()).map((r) => Number(r.id));
    if (ids.length === 0) return [];
    // `dsn = 'pending'` in the update makes the claim atomic per row without row locks.
    await this.db.updateTable("recipients").set({ dsn: claim.token })
      .where("id", "in", ids).where("dsn", "=", "pending").execute();
    const recipients = await this.db.selectFrom("recipients")
      .select([
        "id",
        "message_id",
        "address",
        "state",
        "last_code",
        "last_reply",
        "category",
        "updated_at",
      ])
      .where("dsn", "=", claim.token).orderBy("id").execute();
    if (recipients.length === 0) return [];
    const messageIds = [...new Set(recipients.map((r) => r.message_id))];
    const messages = await this.db.selectFrom("messages")
      .select(["id", "sender", "channel", "created_at", "meta"])
      .where("id", "in", messageIds).execute();
    // The last attempt that reached a server names the Remote-MTA.
    const attempts = await this.db.selectFrom("attempts")
      .select(["message_id", "recipient", "mx_host", "remote_ip"])
      .where("message_id", "in", messageIds).where("mx_host", "is not", null)
      .orderBy("id").execute();
    const lastHost = new Map<string, { mx_host: string | null; remote_ip: string | null }>();
    for (const a of attempts) lastHost.set(`${a.message_id}\u0000${a.recipient}`, a);
    const work = new Map<string, DsnWork>();
    for (const m of messages) {
      let meta: Record<string, unknown> | null = null;
      try {
        meta = m.meta ? JSON.parse(m.meta) : null;
      } catch {
        meta = null;
      }
      work.set(m.id, {
        messageId: m.id,
        sender: m.sender,
        channel: m.channel,
        createdAt: Number(m.created_at),
        meta,
        recipients: [],
      });
    }
    for (const r of recipients) {
      const host = lastHost.get(`${r.message_id}\u0000${r.address}`);
      work.get(r.message_id)?.recipients.push({
        id: Number(r.id),
        address: r.address,
        state: r.state,
        code: r.last_code === null ? null : Number(r.last_code),
        reply: r.last_reply,
        category: r.category,
        updatedAt: Number(r.updated_at),
        mxHost: host?.mx_host ?? null,
        remoteIp: host?.remote_ip ?? null,
      });
    }
    return [...work.values()].filter((w) => w.recipients.length > 0);
  }

  async finishDsns(recipientIds: number[], state: "sent" | "skipped"): Promise<void> {
    for (const part of chunks(recipientIds, INSERT_CHUNK)) {
      await this.db.updateTable("recipients").set({ dsn: state }).where("id", "in", part)
        .execute();
    }
  }

  async releaseDsnClaims(tokenPrefix: string): Promise<number> {
    // LIKE narrows the search; startsWith makes it exact ("_" and "%" are LIKE wildcards).
    const rows = await this.db.selectFrom("recipients").select(["id", "dsn"])
      .where("dsn", "like", `${tokenPrefix}%`).execute();
    const ids = rows.filter((r) => r.dsn?.startsWith(tokenPrefix)).map((r) => Number(r.id));
    for (const part of chunks(ids, INSERT_CHUNK)) {
      await this.db.updateTable("recipients").set({ dsn: "pending" }).where("id", "in", part)
        .execute();
    }
    return ids.length;
  }

  async dkimKeys(): Promise<DkimKeyRecord[]> {
    const rows = await this.db.selectFrom("dkim_keys").selectAll()
      .orderBy("domain").orderBy("selector").execute();
    return rows.map((r) => ({
      domain: r.domain,
      selector: r.selector,
      algorithm: r.algorithm,
      privateKey: r.private_key,
      publicKey: r.public_key,
      createdAt: Number(r.created_at),
    }));
  }

  async addDkimKey(key: DkimKeyRecord): Promise<void> {
    await this.db.insertInto("dkim_keys").values({
      domain: key.domain,
      selector: key.selector,
      algorithm: key.algorithm,
      private_key: key.privateKey,
      public_key: key.publicKey,
      created_at: key.createdAt,
    }).execute();
  }

  async removeDkimKey(domain: string, selector: string): Promise<boolean> {
    const result = await this.db.deleteFrom("dkim_keys")
      .where("domain", "=", domain).where("selector", "=", selector).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listMessages(options: { limit: number; before?: string }): Promise<MessageSummary[]> {
    let query = this.db.selectFrom("messages")
      .select(["id", "sender", "created_at", "size", "recipient_count"])
      .orderBy("id", "desc").limit(options.limit);
    if (options.before) query = query.where("id", "<", options.before);
    const messages = await query.execute();
    if (messages.length === 0) return [];
    const states = await this.db.selectFrom("recipients")
      .select((eb) => ["message_id", "state", eb.fn.countAll<number>().as("n")])
      .where("message_id", "in", messages.map((m) => m.id))
      .groupBy(["message_id", "state"]).execute();
    return messages.map((m) => {
      let pending = 0;
      let failed = 0;
      for (const s of states) {
        if (s.message_id !== m.id) continue;
        if (s.state === "queued" || s.state === "deferred") pending += Number(s.n);
        if (s.state === "failed" || s.state === "suppressed") failed += Number(s.n);
      }
      return {
        id: m.id,
        sender: m.sender,
        createdAt: Number(m.created_at),
        size: Number(m.size),
        recipients: Number(m.recipient_count),
        pending,
        failed,
      };
    });
  }

  async recentAttempts(options: { limit: number }): Promise<AttemptRow[]> {
    const rows = await this.db.selectFrom("attempts")
      .select([
        "at",
        "message_id",
        "recipient",
        "outcome",
        "code",
        "reply",
        "source_ip",
        "mx_host",
        "duration_ms",
      ])
      .orderBy("id", "desc").limit(options.limit).execute();
    return rows.map((r) => ({
      at: Number(r.at),
      messageId: r.message_id,
      recipient: r.recipient,
      outcome: r.outcome,
      code: r.code === null ? null : Number(r.code),
      reply: r.reply,
      sourceIp: r.source_ip,
      mxHost: r.mx_host,
      durationMs: Number(r.duration_ms),
    }));
  }

  async close(): Promise<void> {
    await this.#onClose();
  }
}

/**
 * The unit row an outcome may settle: the one leased with its token, or (broker queue) the one
 * still at copy number `copy`, which then moves on by one.
 */
function claimUnit(
  trx: Transaction<Tables>,
  o: UnitOutcome,
  copy: number | undefined,
) {
  const update = trx.updateTable("queue").where("id", "=", o.unitId);
  if (copy === undefined) return update.where("lease_token", "=", o.leaseToken);
  return update.where("copy_seq", "=", copy).where("state", "=", "queued")
    .set({ copy_seq: copy + 1 });
}

/** Settles a held unit: due again at `held.until`, and the attempt it was leased with given back. */
async function holdUnit(
  trx: Transaction<Tables>,
  o: UnitOutcome,
  copy: number | undefined,
): Promise<boolean> {
  const held = o.held!;
  // A held unit may still carry final results (recipients screened out before the hold, e.g.
  // suppressed): the caller records them like any other.
  const result = await claimUnit(trx, o, copy)
    .set((eb) => ({
      due_at: held.until,
      // Leasing counted an attempt in the embedded queue; the broker queue counts at settle.
      attempts: copy === undefined ? eb("attempts", "-", 1) : eb.ref("attempts"),
      lease_owner: null,
      lease_token: null,
      updated_at: o.at,
      held: held.reason,
      last_reply: held.why,
    }))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Settles an attempted unit: done, or due again at `retryAt` when a recipient was deferred. */
async function finishUnit(
  trx: Transaction<Tables>,
  o: UnitOutcome,
  copy: number | undefined,
): Promise<boolean> {
  const anyDeferred = o.results.some((r) => r.outcome === "deferred");
  const lastReply = o.results[o.results.length - 1]?.reply ?? null;
  const common = {
    lease_owner: null,
    lease_token: null,
    updated_at: o.at,
    last_reply: lastReply,
    held: null,
  };
  const result = await claimUnit(trx, o, copy)
    .set(
      anyDeferred
        ? { ...common, state: "queued", due_at: o.retryAt ?? o.at }
        : { ...common, state: "done" },
    )
    .set((eb) => ({
      // Leasing counted the attempt in the embedded queue; the broker queue counts it here.
      attempts: copy === undefined ? eb.ref("attempts") : eb("attempts", "+", 1),
    }))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

function parseMeta(text: string | null): Record<string, unknown> | null {
  if (text === null || text === "") return null;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}

function suppressionOf(row: {
  address: string;
  category: string;
  code: number | null;
  reason: string | null;
  message_id: string | null;
  created_at: number;
  expires_at: number;
}): Suppression {
  return {
    address: row.address,
    category: row.category,
    code: row.code === null ? null : Number(row.code),
    reason: row.reason,
    messageId: row.message_id,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}
