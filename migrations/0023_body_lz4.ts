/**
 * 0023: PostgreSQL compresses message bodies with LZ4 instead of its default pglz (issue 19,
 * distributed mode). Bodies above ~2 KB are compressed when stored, and pglz spent ~4.5 ms of
 * server CPU per 100 KB text body here (giving up on it after all), LZ4 ~0.7 ms; substring
 * reads of a body's head decompress faster too (docs/performance.md). Only rows written from
 * now on use it: existing ones stay readable as they are. Needs PostgreSQL 14 or later built
 * with LZ4 (the Debian/Ubuntu and official packages are); on any other server, and on the
 * other databases (which do not compress blobs by default), nothing changes.
 */
import { type Kysely, sql } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect !== "postgres") return;
  // Before 14 the setting does not exist; without LZ4 support it does not list lz4.
  const { rows } = await sql<{ lz4: boolean }>`
    select 'lz4' = any(enumvals) as lz4 from pg_settings where name = 'default_toast_compression'`
    .execute(db);
  if (!rows[0]?.lz4) return;
  await sql`alter table messages alter column body set compression lz4`.execute(db);
}

/** Message bodies compressed with LZ4 on PostgreSQL. */
export const migration0023: FastmtaMigration = { up };
