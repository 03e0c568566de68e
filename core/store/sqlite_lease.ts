/**
 * The lease transaction's statements on SQLite as fixed texts (lists as one JSON parameter read
 * with `json_each`, as sqlite_settle.ts does for settle): Kysely's builder made an IN list with
 * one parameter per unit, so every lease built and compiled its statements again (50–80 µs each
 * on a quiet machine) and SQLite prepared a new text for every batch size. One text each is
 * built once and prepared once per connection. Private to core/store/.
 */
import { CompiledQuery } from "kysely";
import { IN_JSON } from "./sqlite_settle.ts";

const LEASE_UPDATE = `update "queue" set "lease_owner" = ?, "lease_token" = ?, "due_at" = ?, ` +
  `"attempts" = "attempts" + 1, "updated_at" = ? where "id" ${IN_JSON}`;

/** Marks the units leased to `owner` under `token` until `until` (at `now`), the attempt counted. */
export function leaseUnitsSqlite(
  ids: readonly string[],
  owner: string,
  token: string,
  until: number,
  now: number,
): CompiledQuery {
  return CompiledQuery.raw(LEASE_UPDATE, [owner, token, until, now, JSON.stringify(ids)]);
}

const LEASED_UNITS = `select "queue"."id" as "id", "queue"."message_id" as "message_id", ` +
  `"queue"."domain" as "domain", "queue"."attempts" as "attempts", ` +
  `"messages"."sender" as "sender", "messages"."created_at" as "created_at", ` +
  `"messages"."meta" as "meta" from "queue" ` +
  `inner join "messages" on "messages"."id" = "queue"."message_id" ` +
  `where "queue"."id" ${IN_JSON} order by "queue"."due_at"`;

/** What delivery needs of the units and their messages, by unit id. */
export function leasedUnitsSqlite(ids: readonly string[]): CompiledQuery<{
  id: string;
  message_id: string;
  domain: string;
  attempts: number;
  sender: string;
  created_at: number;
  meta: string | null;
}> {
  return CompiledQuery.raw(LEASED_UNITS, [JSON.stringify(ids)]);
}
