/**
 * Opens the configured store. SQLite (the embedded default) runs on `node:sqlite`; other
 * dialects plug in here without touching callers.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Kysely } from "kysely";
import type { Config } from "../config/mod.ts";
import { NodeSqliteDialect, openSqlite } from "./sqlite_dialect.ts";
import { SqlStore } from "./sql_store.ts";
import type { Tables } from "./tables.ts";

export type {
  AttemptRow,
  DkimKeyRecord,
  DsnClaim,
  DsnRecipientRow,
  DsnWork,
  LeaseRequest,
  MessageStatus,
  MessageSummary,
  QueueCounts,
  SettleOptions,
  SmtpUser,
  SmtpUserUpdate,
  Store,
  Suppression,
} from "./store.ts";
export { SqlStore } from "./sql_store.ts";

/** How a connection will be used; decides SQLite's `synchronous` level. */
export type StoreRole = "accept" | "deliver" | "admin";

/**
 * Opens a store connection for one thread.
 *
 * SQLite durability: WAL with `synchronous=FULL` for the accept role, so a committed batch is
 * fsync'd before SMTP says 250 and survives power loss. Other roles use `NORMAL`: in WAL that
 * still survives a process crash (kill -9); on power loss it can only lose a recent settle or
 * lease, which means a repeated delivery (at-least-once), never a lost message.
 */
export function openStore(config: Config, role: StoreRole): Promise<SqlStore> {
  const { driver, connection } = config.database;
  if (driver === "sqlite3") {
    mkdirSync(dirname(connection), { recursive: true });
    const raw = openSqlite(connection, { synchronous: role === "accept" ? "FULL" : "NORMAL" });
    const db = new Kysely<Tables>({ dialect: new NodeSqliteDialect(raw) });
    return Promise.resolve(new SqlStore(db, "sqlite3", () => db.destroy()));
  }
  return Promise.reject(
    new Error(`Cannot open database "${driver}": this build supports only "sqlite3" so far`),
  );
}
