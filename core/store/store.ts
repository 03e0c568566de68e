/**
 * The store's role interfaces, one per aggregate, each declared in the module that implements
 * it (units.ts, bodies.ts, views.ts, …); `Store` is all of them on one database. Consumers take
 * the narrowest role they need (`UnitStore`, `Pick<SuppressionStore, "suppressions">`, …), so a
 * new table adds a module and a line here, not methods to every caller's type. Nothing above
 * core/store/ knows which database runs, or touches Kysely (tests/store_boundary_test.ts).
 */
import type { AdminUserStore } from "./admin_users.ts";
import type { ApiKeyStore } from "./api_keys.ts";
import type { BodyStore } from "./bodies.ts";
import type { BodySpoolStore } from "./body_spool.ts";
import type { BounceReportStore } from "./bounce_reports.ts";
import type { ClusterSecretStore } from "./cluster_secrets.ts";
import type { DelayDsnStore } from "./delay_dsn.ts";
import type { ClusterLimitStore, NodeStore, OverrideStore } from "./cluster.ts";
import type { ConfigObjectStore } from "./config_objects.ts";
import type { DkimKeyStore } from "./dkim_keys.ts";
import type { DsnStore } from "./dsn_claims.ts";
import type { StoreHealthStatus } from "./health.ts";
import type { OutboxStore } from "./outbox.ts";
import type { PauseStore } from "./pauses.ts";
import type { QuarantineStore } from "./quarantine.ts";
import type { QueueJobStore } from "./queue_jobs.ts";
import type { QueueOpsStore } from "./queue_ops.ts";
import type { QueueSearchStore } from "./queue_search.ts";
import type { SchemaStore } from "./schema.ts";
import type { SendingDomainStore } from "./sending_domains.ts";
import type { SenderSuppressionStore } from "./sender_suppressions.ts";
import type { ShapingRuleStore } from "./shaping_rules.ts";
import type { SmtpUserStore } from "./smtp_users.ts";
import type { SuppressionStore } from "./suppressions.ts";
import type { UnitStore } from "./units.ts";
import type { BrokerUnitStore } from "./units_broker.ts";
import type { ViewStore } from "./views.ts";
import type { ActivityStore } from "./activity.ts";
import type { QueueSummaryStore } from "./queue_summary.ts";
import type { WebhookStore } from "./webhooks.ts";

export type { StoreHealthStatus } from "./health.ts";
export type { AdminSessionRecord, AdminUserStore } from "./admin_users.ts";
export type { ApiKeyRecord, ApiKeyStore } from "./api_keys.ts";
export type { BodyHead, BodyStore } from "./bodies.ts";
export type { BodySpoolStore } from "./body_spool.ts";
export type {
  BouncedMessage,
  BounceReport,
  BounceReportResult,
  BounceReportStore,
  NewBounceReport,
} from "./bounce_reports.ts";
export type { ClusterSecretStore } from "./cluster_secrets.ts";
export type { DelayDsnStore, DelayedWork } from "./delay_dsn.ts";
export type { SenderSuppression, SenderSuppressionStore } from "./sender_suppressions.ts";
export type {
  ClusterLimitStore,
  ClusterStore,
  NodeRecord,
  NodeStore,
  OverrideRecord,
  OverrideStore,
  SlotRecord,
} from "./cluster.ts";
export type {
  AuditQuery,
  AuditRecord,
  ConfigObjectChange,
  ConfigObjectRecord,
  ConfigObjectStore,
  ConfigObjectWrite,
  NewAuditRecord,
} from "./config_objects.ts";
export type { DkimKeyRecord, DkimKeyStore } from "./dkim_keys.ts";
export type { DsnClaim, DsnRecipientRow, DsnStore, DsnWork } from "./dsn_claims.ts";
export type {
  OutboxClaim,
  OutboxClaimRequest,
  OutboxOutcomes,
  OutboxState,
  OutboxStore,
} from "./outbox.ts";
export type {
  CancelResult,
  FailureRecord,
  QuarantinedUnit,
  QuarantineStore,
  RecordOptions,
  UnitFailure,
  UnitStatus,
} from "./quarantine.ts";
export type { PauseRecord, PauseStore } from "./pauses.ts";
export type { QueueJobRecord, QueueJobStore } from "./queue_jobs.ts";
export type { QueueOpsStore, UnitCopy, UnitsCancelled } from "./queue_ops.ts";
export type { QueueSearchStore, UnitFilter, UnitRow, UnitSearchState } from "./queue_search.ts";
export type { MigrationState, SchemaStore } from "./schema.ts";
export type { SendingDomainRecord, SendingDomainStore } from "./sending_domains.ts";
export type { ShapingRuleRow, ShapingRuleStore } from "./shaping_rules.ts";
export type { SmtpUser, SmtpUserStore, SmtpUserUpdate } from "./smtp_users.ts";
export type {
  Suppression,
  SuppressionListOptions,
  SuppressionSource,
  SuppressionStore,
} from "./suppressions.ts";
export type {
  AcceptLease,
  InsertOptions,
  LeaseRequest,
  SettleOptions,
  UnitStore,
} from "./units.ts";
export type { BrokerUnitStore, SweepResult, UnitOrigin, UnitState } from "./units_broker.ts";
export type { ActivityMinute, ActivityStore } from "./activity.ts";
export type { TotalRecount } from "./recipient_totals.ts";
export type {
  DomainQueue,
  QueueGrouping,
  QueueRow,
  QueueStateCounts,
  QueueSummary,
  QueueSummaryStore,
  QueueView,
} from "./queue_summary.ts";
export type {
  NewWebhook,
  WebhookAttemptRecord,
  WebhookBatchRow,
  WebhookDeadLetterRecord,
  WebhookOutboxRow,
  WebhookPostResult,
  WebhookRecord,
  WebhookStore,
} from "./webhooks.ts";
export type { AttemptRow, MessageStatus, MessageSummary, QueueCounts, ViewStore } from "./views.ts";

/** Pool settings shared by the client/server SQL dialects. */
export interface PoolOptions {
  /** Most open connections. */
  max: number;
  /** Shown to the server (`application_name`, connection attributes). */
  applicationName: string;
  /**
   * The pool only inserts and reads or writes rows by key (the accept role, delivery): PostgreSQL
   * may plan its statements once, generically (postgres_dialect.ts).
   */
  byKeyOnly?: boolean;
}

/** A store connection: its health and its end. */
export interface StoreConnection {
  /** Whether the database answers (see health.ts); never touches the database. */
  health(): StoreHealthStatus;
  close(): Promise<void>;
}

/** Durable state, every aggregate on one database. */
export interface Store
  extends
    StoreConnection,
    SchemaStore,
    UnitStore,
    BrokerUnitStore,
    BodyStore,
    BodySpoolStore,
    ViewStore,
    ActivityStore,
    QueueSummaryStore,
    SuppressionStore,
    DsnStore,
    DkimKeyStore,
    SendingDomainStore,
    ShapingRuleStore,
    SmtpUserStore,
    ApiKeyStore,
    AdminUserStore,
    NodeStore,
    OverrideStore,
    ClusterLimitStore,
    OutboxStore,
    ConfigObjectStore,
    QueueSearchStore,
    QueueOpsStore,
    PauseStore,
    QueueJobStore,
    BounceReportStore,
    SenderSuppressionStore,
    ClusterSecretStore,
    DelayDsnStore,
    WebhookStore {
  /** Handling failures and quarantined units (quarantine.ts), a role of its own. */
  readonly quarantine: QuarantineStore;
}
