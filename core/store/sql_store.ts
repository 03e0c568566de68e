/**
 * The SQL store on Kysely: one implementation for every dialect, assembled from one repository
 * per aggregate. The few places where SQL differs (row locking when leasing, `top` instead of
 * `limit` on SQL Server, statement size limits) branch on the dialect inside the repositories.
 * Every write that must be atomic is one transaction (retried when the database picks it as a
 * deadlock victim, _sql.ts), and every hot-path write takes a batch (group commit). Every
 * statement runs under a `ConnectionMonitor` (health.ts, wired in by mod.ts): bounded in time,
 * and a lost database is reported and retried with backoff.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "../../migrations/mod.ts";
import { segmentHandles } from "../spool/mod.ts";
import { type BodySpool, SqlContext } from "./_sql.ts";
import type { FileSystemFence } from "./fs_fence.ts";
import { activityRepository } from "./activity.ts";
import { queueSummaryRepository } from "./queue_summary.ts";
import { adminUserRepository } from "./admin_users.ts";
import { apiKeyRepository } from "./api_keys.ts";
import { bodyRepository } from "./bodies.ts";
import { bodySpoolRepository } from "./body_spool.ts";
import { bounceReportRepository } from "./bounce_reports.ts";
import { clusterSecretRepository } from "./cluster_secrets.ts";
import { clusterRepository } from "./cluster.ts";
import { configObjectRepository } from "./config_objects.ts";
import { dkimKeyRepository } from "./dkim_keys.ts";
import { sendingDomainRepository } from "./sending_domains.ts";
import { delayDsnRepository } from "./delay_dsn.ts";
import { dsnRepository } from "./dsn_claims.ts";
import { ConnectionMonitor } from "./health.ts";
import { outboxRepository } from "./outbox.ts";
import { SqlQuarantine } from "./quarantine.ts";
import { pauseRepository } from "./pauses.ts";
import { queueJobRepository } from "./queue_jobs.ts";
import { queueOpsRepository } from "./queue_ops.ts";
import { queueSearchRepository } from "./queue_search.ts";
import { schemaRepository } from "./schema.ts";
import { senderSuppressionRepository } from "./sender_suppressions.ts";
import { shapingRuleRepository } from "./shaping_rules.ts";
import { smtpUserRepository } from "./smtp_users.ts";
import type { Store } from "./store.ts";
import { suppressionRepository } from "./suppressions.ts";
import type { Tables } from "./tables.ts";
import { unitRepository } from "./units.ts";
import { brokerUnitRepository } from "./units_broker.ts";
import { viewRepository } from "./views.ts";
import { webhookRepository } from "./webhooks.ts";

export { dueUnitsQuery, unitRecipientsQuery } from "./units_lease.ts";
export { type BodySpool, PG_TYPES } from "./_sql.ts";

/** A `Store` on a Kysely dialect. */
export interface SqlStore extends Store {
  readonly dialect: Dialect;
  /**
   * The raw handle: for core/store/ and white-box tests only (tests/store_boundary_test.ts
   * fails on any other module that reads it).
   */
  readonly db: Kysely<Tables>;
}

/** Assembles the store on `db`; `onClose` ends the connection (pool). */
export function createSqlStore(
  db: Kysely<Tables>,
  dialect: Dialect,
  onClose: () => Promise<void>,
  monitor: ConnectionMonitor = new ConnectionMonitor(dialect, () => {}),
  spool: BodySpool | null = null,
  fence: FileSystemFence | null = null,
): SqlStore {
  const ctx = new SqlContext(db, dialect, spool, fence);
  return {
    db,
    dialect,
    health: () => monitor.status(),
    close: async () => {
      await spool?.writer?.close(); // sealed: the last batch is committed or never will be
      fence?.close();
      if (spool) segmentHandles.forget(spool.dir); // this thread's kept read handles
      await onClose();
    },
    quarantine: new SqlQuarantine(ctx),
    ...schemaRepository(ctx),
    ...unitRepository(ctx),
    ...brokerUnitRepository(ctx),
    ...bodyRepository(ctx),
    ...bodySpoolRepository(ctx),
    ...viewRepository(ctx),
    ...activityRepository(ctx),
    ...queueSummaryRepository(ctx),
    ...suppressionRepository(ctx),
    ...dsnRepository(ctx),
    ...dkimKeyRepository(ctx),
    ...sendingDomainRepository(ctx),
    ...shapingRuleRepository(ctx),
    ...smtpUserRepository(ctx),
    ...apiKeyRepository(ctx),
    ...adminUserRepository(ctx),
    ...clusterRepository(ctx),
    ...outboxRepository(ctx),
    ...configObjectRepository(ctx),
    ...queueSearchRepository(ctx),
    ...queueOpsRepository(ctx),
    ...pauseRepository(ctx),
    ...queueJobRepository(ctx),
    ...bounceReportRepository(ctx),
    ...senderSuppressionRepository(ctx),
    ...clusterSecretRepository(ctx),
    ...delayDsnRepository(ctx),
    ...webhookRepository(ctx),
  };
}
