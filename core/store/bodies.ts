/**
 * Message bodies: the raw bytes delivery sends, or just their head, read by message id, from
 * `messages.body` or, for a spooled body (0022), from its segment file (core/spool/).
 */
import { sql } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import { readSegment, type SpoolRef } from "../spool/mod.ts";
import { CompiledOnce } from "./compiled_once.ts";
import { chunks, inList, numberOrNull, ownBytes, type SqlContext } from "./_sql.ts";

/** The first bytes of a message and its full size. */
export interface BodyHead {
  head: Uint8Array;
  size: number;
  /** Where a spooled body's bytes are: `readSpooled` reads them whole without another query. */
  spooled?: SpoolRef;
}

/** Ids per statement: well within every driver's parameter limit (SQLite 32 766, MSSQL 2 100). */
const CHUNK = 500;

/**
 * Bodies up to this size come whole in `readBodyHeads` on PostgreSQL and MariaDB/MySQL: there a
 * second read is another round trip, and on PostgreSQL another detoast and hex decode of the
 * head's bytes (measured: a 100 KB message cost ~15 % less machine CPU, docs/performance.md).
 * Larger bodies, and SQLite's (a local read, where holding fewer bytes saves memory), keep to
 * the head.
 */
export const WHOLE_BODY_BYTES = 131_072;

/** The largest body `readBodyHeads` reads whole on `dialect` (0: heads only). */
function wholeUpTo(dialect: Dialect): number {
  return dialect === "postgres" || dialect === "mysql" ? WHOLE_BODY_BYTES : 0;
}

/** What delivery and DSNs read of a message's bytes. */
export interface BodyStore {
  /** The raw message bytes. */
  readBody(messageId: string): Promise<Uint8Array | null>;
  /**
   * The first `maxBytes` of a message and its full size: enough for the header section of most
   * messages, without holding a large body in memory (null if the message is gone).
   */
  readBodyHead(
    messageId: string,
    maxBytes: number,
  ): Promise<BodyHead | null>;
  /**
   * `readBodyHead` for many messages in one statement (delivery reads a lease batch's heads at
   * once: one round trip and one commit per batch on a server database). On PostgreSQL and
   * MariaDB/MySQL a body of at most `WHOLE_BODY_BYTES` comes whole (`head.byteLength === size`),
   * so delivery reads it once. Messages that are gone are absent from the map.
   */
  readBodyHeads(messageIds: string[], maxBytes: number): Promise<Map<string, BodyHead>>;
  /**
   * A spooled body's bytes from its segment file (`BodyHead.spooled`); null once freed. For
   * delivery: through a kept read handle, like `readBodyHeads` (core/spool/segment_reads.ts).
   */
  readSpooled(ref: SpoolRef): Promise<Uint8Array | null>;
  /** The largest message body the database can store, or null when it has no such limit. */
  maxBodyBytes(): Promise<number | null>;
}

interface SpooledAt {
  body_segment: string | null;
  body_offset: number | string | null;
}

/** Where a spooled row's first `length` bytes are. */
function refOf(row: SpooledAt, length: number): SpoolRef {
  return { segment: row.body_segment!, offset: numberOrNull(row.body_offset) ?? 0, length };
}

/**
 * A spooled body's bytes (or its first bytes); null when its segment was freed. `keep`: through
 * a kept read handle (delivery's reads of leased messages, core/spool/segment_reads.ts).
 */
function readSpooled(ctx: SqlContext, ref: SpoolRef, keep = false): Promise<Uint8Array | null> {
  if (!ctx.spool) {
    throw new Error(
      `Cannot read body in spool segment "${ref.segment}": this store has no spool folder`,
    );
  }
  return readSegment(ctx.spool.dir, ref, { keep });
}

async function readBody(ctx: SqlContext, messageId: string): Promise<Uint8Array | null> {
  const row = await ctx.db.selectFrom("messages")
    .select(["body", "size", "body_segment", "body_offset"])
    .where("id", "=", messageId).executeTakeFirst();
  if (!row) return null;
  if (row.body_segment !== null) return await readSpooled(ctx, refOf(row, Number(row.size)));
  return ownBytes(row.body);
}

/**
 * The first `maxBytes` of the body column (SUBSTRING counts bytes on binary columns), or the
 * whole column where the body is at most `whole` bytes.
 */
function headColumn(dialect: Dialect, maxBytes: number, whole = 0) {
  const n = Math.max(1, Math.floor(maxBytes));
  const head = dialect === "sqlite3"
    ? sql<Uint8Array>`substr(${sql.ref("body")}, 1, ${sql.lit(n)})` // substr on a BLOB: bytes
    : dialect === "postgres"
    ? sql<Uint8Array>`substring(${sql.ref("body")} from 1 for ${sql.lit(n)})`
    : sql<Uint8Array>`substring(${sql.ref("body")}, 1, ${sql.lit(n)})`;
  if (whole <= n) return head;
  // One branch is evaluated per row: a larger body is still read only as far as its head.
  return sql<Uint8Array>`case when ${sql.ref("size")} <= ${sql.lit(whole)} then ${
    sql.ref("body")
  } else ${head} end`;
}

/** One row's head: from the column, or from its segment when the body is spooled. */
async function headOf(
  ctx: SqlContext,
  row: SpooledAt & { head: Uint8Array; size: number | string },
  maxBytes: number,
  keep = false,
): Promise<BodyHead | null> {
  const size = Number(row.size);
  if (row.body_segment === null) return { head: ownBytes(row.head), size };
  const spooled = refOf(row, size);
  const n = Math.min(Math.max(1, Math.floor(maxBytes)), size);
  const head = await readSpooled(ctx, { ...spooled, length: n }, keep);
  return head ? { head, size, spooled } : null;
}

async function readBodyHead(
  ctx: SqlContext,
  messageId: string,
  maxBytes: number,
): Promise<BodyHead | null> {
  const row = await ctx.db.selectFrom("messages")
    .select([headColumn(ctx.dialect, maxBytes).as("head"), "size", "body_segment", "body_offset"])
    .where("id", "=", messageId).executeTakeFirst();
  return row ? await headOf(ctx, row, maxBytes) : null;
}

/** Delivery's read of a lease batch's heads, per head length (compiled once: compiled_once.ts). */
const HEADS = new Map<number, CompiledOnce<[string[]], BodyHeadRow>>();

interface BodyHeadRow extends SpooledAt {
  id: string;
  head: Uint8Array;
  size: number | string;
}

function headsQuery(maxBytes: number): CompiledOnce<[string[]], BodyHeadRow> {
  let query = HEADS.get(maxBytes);
  if (!query) {
    query = new CompiledOnce((db, dialect, ids: string[]) =>
      db.selectFrom("messages")
        .select([
          "id",
          headColumn(dialect, maxBytes, wholeUpTo(dialect)).as("head"),
          "size",
          "body_segment",
          "body_offset",
        ])
        .where(inList(dialect, "id", ids))
    );
    if (HEADS.size < 16) HEADS.set(maxBytes, query);
  }
  return query;
}

async function readBodyHeads(
  ctx: SqlContext,
  messageIds: string[],
  maxBytes: number,
): Promise<Map<string, BodyHead>> {
  const heads = new Map<string, BodyHead>();
  for (const part of chunks([...new Set(messageIds)], CHUNK)) {
    const { rows } = await ctx.db.executeQuery(
      headsQuery(maxBytes).compile(ctx.db, ctx.dialect, part),
    );
    for (const row of rows) {
      const head = await headOf(ctx, row, maxBytes, true); // delivery's read (leased units)
      if (head) heads.set(row.id, head);
    }
  }
  return heads;
}

async function maxBodyBytes(ctx: SqlContext): Promise<number | null> {
  if (ctx.dialect !== "mysql") return null;
  const { rows } = await sql<{ max: string | number }>`select @@max_allowed_packet as max`
    .execute(ctx.db);
  // The whole blob is one value in one packet, with some room for the row around it.
  return Number(rows[0].max) - 64 * 1024;
}

/** The body store on one database. */
export function bodyRepository(ctx: SqlContext): BodyStore {
  return {
    readBody: (messageId) => readBody(ctx, messageId),
    readBodyHead: (messageId, maxBytes) => readBodyHead(ctx, messageId, maxBytes),
    readBodyHeads: (messageIds, maxBytes) => readBodyHeads(ctx, messageIds, maxBytes),
    readSpooled: (ref) => readSpooled(ctx, ref, true), // delivery's whole read (leased units)
    maxBodyBytes: () => maxBodyBytes(ctx),
  };
}
