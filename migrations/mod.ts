/**
 * The ordered list of schema migrations. Listed statically (not read from the folder) so that
 * `deno compile` embeds them in the binary. Names sort in application order.
 */
import type { Migration } from "kysely/migration";
import type { Dialect, FastmtaMigration } from "./_types.ts";
import { migration0001 } from "./0001_queue.ts";
import { migration0002 } from "./0002_smtp_users.ts";
import { migration0003 } from "./0003_delivery.ts";
import { migration0004 } from "./0004_bounce_dkim.ts";
import { migration0005 } from "./0005_cluster.ts";
import { migration0006 } from "./0006_admin.ts";
import { migration0007 } from "./0007_unconfirmed.ts";
import { migration0008 } from "./0008_api_keys.ts";
import { migration0009 } from "./0009_outbox.ts";
import { migration0010 } from "./0010_quarantine.ts";
import { migration0011 } from "./0011_config_objects.ts";
import { migration0012 } from "./0012_roles.ts";
import { migration0013 } from "./0013_bounce_reports.ts";
import { migration0014 } from "./0014_queue_ops.ts";
import { migration0015 } from "./0015_webhooks.ts";
import { migration0016 } from "./0016_domains.ts";
import { migration0017 } from "./0017_message_search.ts";
import { migration0018 } from "./0018_reply_status.ts";
import { migration0019 } from "./0019_pause_site.ts";
import { migration0022 } from "./0022_body_spool.ts";
import { migration0023 } from "./0023_body_lz4.ts";
import { migration0024 } from "./0024_recipient_totals.ts";
import { migration0025 } from "./0025_recipients_dsn_partial.ts";
import { migration0026 } from "./0026_partial_search_indexes.ts";

export type { Dialect } from "./_types.ts";

const MIGRATIONS: Record<string, FastmtaMigration> = {
  "0001_queue": migration0001,
  "0002_smtp_users": migration0002,
  "0003_delivery": migration0003,
  "0004_bounce_dkim": migration0004,
  "0005_cluster": migration0005,
  "0006_admin": migration0006,
  "0007_unconfirmed": migration0007,
  "0008_api_keys": migration0008,
  "0009_outbox": migration0009,
  "0010_quarantine": migration0010,
  "0011_config_objects": migration0011,
  "0012_roles": migration0012,
  "0013_bounce_reports": migration0013,
  "0014_queue_ops": migration0014,
  "0015_webhooks": migration0015,
  "0016_domains": migration0016,
  "0017_message_search": migration0017,
  "0018_reply_status": migration0018,
  "0019_pause_site": migration0019,
  "0022_body_spool": migration0022,
  "0023_body_lz4": migration0023,
  "0024_recipient_totals": migration0024,
  "0025_recipients_dsn_partial": migration0025,
  "0026_partial_search_indexes": migration0026,
};

/** Kysely migrations bound to one dialect. */
export function migrationsFor(dialect: Dialect): Record<string, Migration> {
  return Object.fromEntries(
    Object.entries(MIGRATIONS).map(([name, m]) => [name, { up: (db) => m.up(db, dialect) }]),
  );
}
