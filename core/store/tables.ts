/**
 * Row shapes of every SQL table, as Kysely sees them (see migrations/ for the DDL): the one
 * schema type of the database. Only core/store/ reads it (tests/store_boundary_test.ts). The
 * rows are declared by group (mail_, sending_, access_, cluster_ and webhook_tables.ts) and
 * re-exported here, so a store module imports every row shape from this file.
 */
import type {
  AdminSessionsTable,
  AdminUsersTable,
  ApiKeysTable,
  SmtpUsersTable,
} from "./access_tables.ts";
import type {
  ClusterRateTable,
  ClusterSecretsTable,
  ClusterSlotsTable,
  ConfigAuditTable,
  ConfigObjectsTable,
  ConfigOverridesTable,
  ConfigVersionTable,
  NodesTable,
} from "./cluster_tables.ts";
import type {
  AttemptsTable,
  BounceReportsTable,
  MessagesTable,
  OutboxTable,
  QueueTable,
  RecipientsTable,
  RecipientTotalsTable,
} from "./mail_tables.ts";
import type {
  DkimKeysTable,
  PausesTable,
  QueueJobsTable,
  SendingDomainsTable,
  ShapingRulesTable,
  SuppressionEntriesTable,
} from "./sending_tables.ts";
import type {
  WebhookAttemptsTable,
  WebhookDeadLettersTable,
  WebhookOutboxTable,
  WebhooksTable,
} from "./webhook_tables.ts";

export * from "./access_tables.ts";
export * from "./cluster_tables.ts";
export * from "./mail_tables.ts";
export * from "./sending_tables.ts";

/** The whole database, for Kysely. */
export interface Tables {
  messages: MessagesTable;
  queue: QueueTable;
  recipients: RecipientsTable;
  recipient_totals: RecipientTotalsTable;
  attempts: AttemptsTable;
  smtp_users: SmtpUsersTable;
  shaping_rules: ShapingRulesTable;
  suppression_entries: SuppressionEntriesTable;
  sending_domains: SendingDomainsTable;
  bounce_reports: BounceReportsTable;
  cluster_secrets: ClusterSecretsTable;
  dkim_keys: DkimKeysTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  api_keys: ApiKeysTable;
  nodes: NodesTable;
  config_overrides: ConfigOverridesTable;
  cluster_slots: ClusterSlotsTable;
  cluster_rate: ClusterRateTable;
  outbox: OutboxTable;
  config_objects: ConfigObjectsTable;
  config_audit: ConfigAuditTable;
  config_version: ConfigVersionTable;
  pauses: PausesTable;
  queue_jobs: QueueJobsTable;
  webhooks: WebhooksTable;
  webhook_outbox: WebhookOutboxTable;
  webhook_dead_letters: WebhookDeadLettersTable;
  webhook_attempts: WebhookAttemptsTable;
}
