/**
 * Accepting messages: a batch of messages with their delivery units and recipients made
 * durable in one transaction (group commit), with multi-row INSERTs built directly
 * (bulk_insert.ts) and cut to the dialect's parameter and packet limits.
 */
import type { CompiledQuery, Insertable } from "kysely";
import { sql } from "kysely";
import {
  byteLengthOf,
  joinedBytes,
  type MessageBytes,
  type NewMessage,
  unitsOf,
} from "../contracts/mod.ts";
import { releaseBytes } from "../bytes.ts";
import { asBuffer, chunks, PG_TYPES, rowsPerInsert, type SqlContext } from "./_sql.ts";
import { combinedWrites, insertRowsQuery } from "./bulk_insert.ts";
import type { SpoolRef } from "../spool/mod.ts";
import type { MessagesTable, QueueTable, RecipientsTable } from "./tables.ts";

/** Units of a batch inserted leased to `owner` under `token` until `until` (set at `now`). */
export interface AcceptLease {
  owner: string;
  token: string;
  now: number;
  until: number;
  unitIds: ReadonlySet<string>;
}

/** Bytes of message bodies per INSERT, so a statement stays far below packet limits. */
const INSERT_BODY_BYTES = 4 * 1024 * 1024;
/** Body bytes per statement on MySQL (see insertMessages). */
const MYSQL_BODY_PIECE = 4 * 1024 * 1024;

/** Splits message rows so that each INSERT carries at most ~4 MB of bodies. */
function bodyChunks<T extends { body: Uint8Array }>(rows: T[], maxRows: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (
      current.length > 0 && (bytes + row.body.byteLength > INSERT_BODY_BYTES ||
        current.length >= maxRows)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += row.body.byteLength;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The rows a batch of messages becomes. */
/** The message's tag: `meta.tag`, else the inject document's `metadata.tag`. */
function tagOf(meta: Record<string, unknown> | undefined): unknown {
  const metadata = meta?.metadata as Record<string, unknown> | undefined;
  return meta?.tag ?? metadata?.tag;
}

/** A search column's value: a string cut to the column's size, else null. */
function searchText(value: unknown, size: number): string | null {
  return typeof value === "string" && value !== "" ? value.slice(0, size) : null;
}

interface MessageRows {
  /** Bodies joined here from their pieces (SQL takes one value): freed once written. */
  joined: Uint8Array[];
  messages: Insertable<MessagesTable>[];
  units: Insertable<QueueTable>[];
  recipients: Insertable<RecipientsTable>[];
}

const NO_BYTES = new Uint8Array(0);

function rowsOf(
  messages: NewMessage<MessageBytes>[],
  unconfirmedSince: number | undefined,
  spooled: SpoolRef[] | null,
  lease: AcceptLease | undefined,
): MessageRows {
  const rows: MessageRows = { joined: [], messages: [], units: [], recipients: [] };
  for (const [i, m] of messages.entries()) {
    const ref = spooled?.[i];
    const body = ref ? NO_BYTES : joinedBytes(m.body);
    if (body !== m.body && body !== NO_BYTES) rows.joined.push(body);
    rows.messages.push({
      id: m.id,
      sender: m.sender,
      created_at: m.receivedAt,
      size: byteLengthOf(m.body),
      recipient_count: m.recipients.length,
      channel: m.channel,
      client_ip: m.clientIp,
      meta: m.meta ? JSON.stringify(m.meta) : null,
      pool: searchText(m.meta?.pool, 64),
      tag: searchText(tagOf(m.meta), 255),
      api_key: searchText(m.meta?.api_key, 255),
      // A spooled body's bytes are in its segment; the row says where (0022).
      body: asBuffer(body),
      ...(ref ? { body_segment: ref.segment, body_offset: ref.offset } : {}),
      // Only the broker queue marks; the embedded queue's statement stays as it was.
      ...(unconfirmedSince === undefined ? {} : { unconfirmed_since: unconfirmedSince }),
    });
    for (const { unitId, domain, recipients: addresses } of unitsOf(m)) {
      // Leased at accept: as a lease would leave it (due at the expiry, the attempt counted).
      const leased = lease?.unitIds.has(unitId) ? lease : null;
      rows.units.push({
        id: unitId,
        message_id: m.id,
        domain,
        state: "queued" as const,
        due_at: leased ? leased.until : m.receivedAt,
        attempts: leased ? 1 : 0,
        lease_owner: leased?.owner ?? null,
        lease_token: leased?.token ?? null,
        created_at: m.receivedAt,
        updated_at: leased ? leased.now : m.receivedAt,
        last_reply: null,
      });
      for (const address of addresses) {
        rows.recipients.push({
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
  return rows;
}

/**
 * MySQL sends a statement as one packet (`max_allowed_packet`, 16 MB by default on MariaDB)
 * with binary values written as hex, twice their size: a large body goes in as a first piece,
 * and the rest (returned here) is appended piece by piece in the same transaction.
 */
function cutMysqlBodies(rows: Insertable<MessagesTable>[]): { id: string; body: Uint8Array }[] {
  const tails: { id: string; body: Uint8Array }[] = [];
  for (const row of rows) {
    if (row.body.byteLength > MYSQL_BODY_PIECE) {
      tails.push({ id: row.id, body: row.body.subarray(MYSQL_BODY_PIECE) });
      row.body = row.body.subarray(0, MYSQL_BODY_PIECE);
    }
  }
  return tails;
}

/**
 * PostgreSQL: the batch's three inserts as one statement, when each table's rows fit one
 * INSERT (the usual batch); null otherwise (then one transaction of several).
 */
function singleStatement(rows: MessageRows): CompiledQuery | null {
  const columns = Object.keys(rows.messages[0]).length;
  const fits = bodyChunks(rows.messages, rowsPerInsert("postgres", columns)).length === 1 &&
    rows.units.length <= rowsPerInsert("postgres", 11) &&
    rows.recipients.length <= rowsPerInsert("postgres", 8);
  if (!fits) return null;
  return combinedWrites([
    insertRowsQuery("postgres", "messages", rows.messages, PG_TYPES.messages),
    insertRowsQuery("postgres", "queue", rows.units, PG_TYPES.queue),
    insertRowsQuery("postgres", "recipients", rows.recipients, PG_TYPES.recipients),
  ]);
}

/** Makes a batch of accepted messages durable in one transaction (see `UnitStore`). */
export async function insertMessages(
  ctx: SqlContext,
  messages: NewMessage<MessageBytes>[],
  unconfirmedSince?: number,
  lease?: AcceptLease,
): Promise<void> {
  const { dialect } = ctx;
  // Body bytes first, written and fsync'd once for the batch: only then may a row point at them.
  const writer = ctx.spool?.writer;
  const spooled = writer ? await writer.append(messages.map((m) => m.body)) : null;
  const rows = rowsOf(messages, unconfirmedSince, spooled, lease);
  const tails = dialect === "mysql" ? cutMysqlBodies(rows.messages) : [];
  const single = dialect === "postgres" ? singleStatement(rows) : null;
  if (single) {
    // One round trip, atomic on its own (bulk_insert.ts: combinedWrites).
    await ctx.db.executeQuery(single);
    ctx.fence?.check();
    return;
  }
  await ctx.transaction(async (trx) => {
    // Bodies can be large: statements are cut by body bytes as well as by row count.
    const columns = Object.keys(rows.messages[0]).length;
    for (const part of bodyChunks(rows.messages, rowsPerInsert(dialect, columns))) {
      await trx.executeQuery(insertRowsQuery(dialect, "messages", part, PG_TYPES.messages));
    }
    for (const tail of tails) {
      for (let at = 0; at < tail.body.byteLength; at += MYSQL_BODY_PIECE) {
        const piece = tail.body.subarray(at, at + MYSQL_BODY_PIECE);
        await trx.updateTable("messages")
          .set({ body: sql<Uint8Array>`concat(body, ${piece})` })
          .where("id", "=", tail.id).execute();
      }
    }
    for (const part of chunks(rows.units, rowsPerInsert(dialect, 11))) {
      await trx.executeQuery(insertRowsQuery(dialect, "queue", part, PG_TYPES.queue));
    }
    for (const part of chunks(rows.recipients, rowsPerInsert(dialect, 8))) {
      await trx.executeQuery(insertRowsQuery(dialect, "recipients", part, PG_TYPES.recipients));
    }
  }).finally(() => rows.joined.forEach(releaseBytes)); // the pieces' joined copies
  // Committed and fsync'd; a file system that failed around the fsync may have lost it anyway.
  ctx.fence?.check();
}
