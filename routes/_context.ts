/**
 * What the admin app is given, as narrow roles: each sub-app takes only the part it uses
 * (`Pick<AdminContext, …>` or one of the store types below), so a change to the store touches
 * the routes that read that aggregate and no others.
 */
import type { ReadyCheck } from "../core/api/schemas.ts";
import type { AdminAuth, AdminSession } from "../core/auth/admin.ts";
import type { ClusterView } from "../core/cluster/mod.ts";
import type { Config } from "../core/config/mod.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import type { Actor, ObjectService } from "../core/manage/types.ts";
import type { Management } from "../core/manage/mod.ts";
import type { DomainService } from "../core/manage/domains.ts";
import type { SuppressionService } from "../core/manage/suppressions.ts";
import type { Queue } from "../core/queue/mod.ts";
import type { ResourceServices } from "./_resource.ts";
import type { WebhookService } from "../core/manage/webhooks.ts";
import type { CancelMessageStore, MessageDetailStore } from "../core/queue/quarantine.ts";
import type { QueueService } from "../core/manage/queue_service.ts";
import type {
  ActivityStore,
  ApiKeyStore,
  BodyStore,
  BounceReportStore,
  DkimKeyStore,
  QueueSummaryStore,
  StoreConnection,
  ViewStore,
} from "../core/store/mod.ts";

/** Console users and sessions (core/auth/admin.ts). */
export type SessionAuth = Pick<AdminAuth, "session" | "login" | "logout">;

/** The store's views the pages and the read API show. */
export type AdminViewStore = Pick<
  ViewStore,
  "counts" | "messageStatus" | "listMessages" | "recentAttempts"
>;

/**
 * What the message pages and API read and do: views, units, release and cancel, and the
 * bounce reports kept for a message (optional: stores without them show none).
 */
export type MessageStore =
  & AdminViewStore
  & MessageDetailStore
  & CancelMessageStore
  & Partial<Pick<BounceReportStore, "bounceReportsFor">>
  & Partial<Pick<BodyStore, "readBodyHead">>
  & Partial<Pick<DkimKeyStore, "dkimKeys">>;

/** API keys, as the identity check reads them. */
export type ApiKeyCheck = Pick<ApiKeyStore, "apiKeyByHash" | "touchApiKey">;

/** API keys, as `/api/v1/api-keys` manages them. */
export type ApiKeyAdmin = Pick<ApiKeyStore, "addApiKey" | "listApiKeys" | "removeApiKey">;

/** The store roles of the whole admin app. */
export type AdminStore =
  & MessageStore
  & ActivityStore
  & QueueSummaryStore
  & ApiKeyCheck
  & ApiKeyAdmin
  & Pick<StoreConnection, "health">;

/** What the routes need from the running node. */
export interface AdminContext {
  config: Config;
  store: AdminStore;
  auth: SessionAuth;
  startedAt: number;
  /** The cluster this node belongs to (absent in route tests that do not need it). */
  cluster?: ClusterView;
  /**
   * The REST API's door to core/accept: resolves with the queue id once the message is durable
   * (absent where sending is not served: the API answers 503).
   */
  accept?: { submit(message: NewMessage): Promise<string> };
  /** This node's queue, for releasing quarantined units (absent: the API answers 503). */
  queue?: Pick<Queue, "resume">;
  /** `GET /readyz`'s checks (cli/readiness.ts; absent: only the database is checked). */
  readiness?: () => Promise<ReadyCheck[]>;
  /** The configuration resources served at /api/v1/<path> (routes/resources). */
  resources?: ResourceServices;
  /** The management plane (config objects, audit); absent in route tests that do not need it. */
  management?: Management;
  /** Sending domains, suppressions, SMTP users, API keys, console users (/api/v1/domains, …). */
  domainServices?: {
    domains: DomainService;
    suppressions: SuppressionService;
    smtpUsers?: ObjectService;
    apiKeys?: ObjectService;
    consoleUsers?: ObjectService;
  };
  /** Queue operations and pauses (core/manage/queue_service.ts); absent: not served. */
  queueOps?: QueueService;
  /**
   * One-click unsubscribe (core/bounce): suppresses the address a signed token names; null
   * when the token is not ours (absent: the link answers 503).
   */
  unsubscribe?: (token: string) => Promise<{ address: string; senderDomain: string } | null>;
  /** The webhook service (core/manage/webhooks.ts; absent: the webhook API answers 503). */
  webhooks?: WebhookService;
}

/** What the request's credentials came to: none, accepted, rejected, or not checkable now. */
export type Credentials = "none" | "ok" | "invalid" | "unavailable";

/** Hono environment of the admin app: who is asking (see _auth.ts). */
export type AdminEnv = {
  Variables: { session: AdminSession | null; actor: Actor | null; credentials: Credentials };
};
