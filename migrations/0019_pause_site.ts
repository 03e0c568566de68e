/**
 * 0019: pauses by destination site (issue 14): `pauses.site` names an MX host of the site (or
 * `*.example.net` for hosts under a domain). A site is known only after the MX lookup, so the
 * delivery workers hold such units after routing and before any connection
 * (core/routing/source_pauses.ts); the scheduler's early hold skips these pauses.
 */
import type { Kysely } from "kysely";
import type { Dialect, FastmtaMigration } from "./_types.ts";

async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable("pauses").addColumn("site", "varchar(255)").execute();
}

/** The destination site of a pause. */
export const migration0019: FastmtaMigration = { up };
