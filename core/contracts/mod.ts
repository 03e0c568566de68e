/**
 * The shapes that cross stage boundaries: what accept hands the queue, what the queue hands a
 * delivery worker, and what comes back to settle. Units travel between threads (postMessage)
 * and, in distributed mode, through the broker: treat changes as format changes and version them.
 */

import { domainOf, mailboxKey } from "../mail/mod.ts";
import type { MessageBytes } from "./message_bytes.ts";

export { byteLengthOf, joinedBytes, type MessageBytes } from "./message_bytes.ts";

/** Version of the queued-unit format below. */
export const UNIT_FORMAT_VERSION = 1;

/**
 * A message accepted by an inbound channel, ready to be made durable. The accept path takes its
 * body as pieces too (`NewMessage<MessageBytes>`: SMTP hands on its socket reads).
 */
export interface NewMessage<Body extends MessageBytes = Uint8Array> {
  id: string;
  sender: string;
  recipients: string[];
  /** Where it came from; "bounce" marks a delivery status notification we generated. */
  channel: "smtp" | "api" | "cli" | "inject" | "outbox" | "bounce";
  clientIp: string | null;
  receivedAt: number;
  body: Body;
  meta?: Record<string, unknown>;
}

/** A delivery unit leased to a worker: one message × one destination domain. */
export interface LeasedUnit {
  v: typeof UNIT_FORMAT_VERSION;
  unitId: string;
  messageId: string;
  domain: string;
  sender: string;
  attempts: number;
  createdAt: number;
  leaseToken: string;
  recipients: string[];
  /** The message's meta (pool, user, deliver_at, …) as the inbound channel stored it. */
  meta?: Record<string, unknown> | null;
}

/**
 * What happened to one recipient in one attempt. "suppressed" means it was not tried because
 * the address is on the suppression list (core/bounce); it is final, like "failed".
 */
export interface RecipientResult {
  address: string;
  outcome: "delivered" | "deferred" | "failed" | "suppressed";
  code: number | null;
  reply: string;
  /** Why it bounced or was deferred (see core/bounce/classify.ts); set before settle. */
  category?: string | null;
  /** Failed because the message became too old to try again (core/settle/retry.ts). */
  expired?: boolean;
}

/**
 * Why a unit was deferred; each reason has its own retry schedule: `remote` (a 4xx reply) and
 * `local` (our own trouble, e.g. DKIM signing) use `retry_schedule`; `connect`, `dns` and `tls`
 * use `connect_retry_schedule`.
 */
export type RetryReason = "remote" | "local" | "connect" | "dns" | "tls";

/**
 * Why a unit was held back without being attempted (no attempt is used, none is logged):
 * a local limit, a cluster-wide limit of its site, a backoff of its (source IP, site), a pause
 * (a shaping rule's, or a stored pause of the management plane), or a scheduled send time.
 */
export type HoldReason =
  | "local_limit"
  | "cluster_limit"
  | "backoff"
  | "paused"
  | "scheduled"
  /** A stored pause (core/schedule/pauses.ts), before any lookup or connection. */
  | "cluster_pause";

/** A try inside one attempt that did not decide it (a host that was down, a switched IP). */
export interface TryRecord {
  at: number;
  durationMs: number;
  sourceIp: string | null;
  mxHost: string | null;
  remoteIp: string | null;
  code: number | null;
  reply: string;
}

/** What every outcome of one delivery attempt of one unit says, whatever its kind. */
export interface OutcomeFacts {
  unitId: string;
  messageId: string;
  domain: string;
  leaseToken: string;
  at: number;
  durationMs: number;
  /** When the message was accepted (epoch ms; for the accept-to-delivery latency metric). */
  acceptedAt?: number;
  sourceIp: string | null;
  mxHost: string | null;
  remoteIp: string | null;
  tls: boolean;
  /**
   * Per-recipient results. A held unit has only the final results of recipients split off
   * before the hold (suppressed); the others wait, unattempted.
   */
  results: RecipientResult[];
  site?: string | null;
  pool?: string | null;
  /** TLS protocol of the connection used ("TLSv1.3"), null without TLS. */
  tlsVersion?: string | null;
  /** The server certificate was verified. */
  tlsVerified?: boolean;
  /** The node that made the attempt. */
  nodeId?: string | null;
  /** Earlier tries within this attempt (logged, they change no state). */
  tries?: TryRecord[];
  /**
   * For events (core/events): the envelope sender, the attempt number (1 for the first: the
   * leased unit's `attempts`), when the message was queued, and its meta.
   */
  sender?: string;
  attempt?: number;
  queuedAt?: number;
  meta?: Record<string, unknown> | null;
}

/** Every recipient has a final result (delivered, failed or suppressed): the unit is done. */
export interface FinalOutcome extends OutcomeFacts {
  kind: "final";
}

/** Some recipients were deferred: the unit is due again at `retryAt`. */
export interface DeferredOutcome extends OutcomeFacts {
  kind: "deferred";
  retryAt: number;
  /** Why recipients were deferred (the retry schedule used). */
  reason: RetryReason;
}

/** The unit was not attempted (no attempt is used): it is due again at `until`. */
export interface HeldOutcome extends OutcomeFacts {
  kind: "held";
  reason: HoldReason;
  until: number;
  /** What held it, for the queue row and the log ("pool bulk paused"). */
  why: string;
}

/**
 * The outcome of one delivery attempt of one unit, to be settled; `kind` says which of the three
 * it is, so an outcome cannot be held and due for a retry at once. It lives in memory only: a
 * delivery worker builds it and settles it itself, and the queue turns it into SQL rows and
 * (broker) the unit's next `QueuedUnit` copy, so its shape is not a stored or wire format.
 */
export type UnitOutcome = FinalOutcome | DeferredOutcome | HeldOutcome;

// ---------------------------------------------------------------------------------------------
// Distributed mode: what travels through RabbitMQ. Message bodies never do (they stay in the
// shared SQL database, `messages.body`); the broker carries small JSON documents only.

/** Version of the `QueuedUnit` format below. */
export const QUEUED_UNIT_VERSION = 1;

/**
 * A delivery unit as published to the broker: the JSON body of a message in a work or delay
 * queue (content-type `application/json`, persistent). Each publish of a unit is a new copy with
 * the next `copy` number; SQL (`queue.copy_seq`) names the live one, so a copy left over by a
 * crash is recognised and dropped (see core/queue/rabbitmq.ts).
 */
export interface QueuedUnit {
  v: typeof QUEUED_UNIT_VERSION;
  unitId: string;
  messageId: string;
  domain: string;
  sender: string;
  recipients: string[];
  /** Which copy of the unit this is (0 for a new unit). */
  copy: number;
  /** Attempts already settled when this copy was published (0 for a new unit). */
  attempts: number;
  createdAt: number;
  /** Not to be attempted before this time (ms since the epoch). */
  dueAt: number;
  /** 0 (normal) … priority levels - 1 (most urgent). */
  priority: number;
}

/** Everything fastmta declares on the broker, named under one prefix. */
export interface BrokerNames {
  /** Direct exchange the units are routed through; routing key `p<level>`. */
  workExchange: string;
  /** Work queue of each priority level (index = level). */
  workQueues: string[];
  /** Routing key of each priority level. */
  workKeys: string[];
  /** Per delay tier: a fanout exchange and a queue of the same name (TTL = the tier). */
  delayQueues: { ttlMs: number; name: string }[];
  /** Applications publish inject messages here (default exchange, routing key = this name). */
  injectQueue: string;
  /** The same queue is also bound to this direct exchange (the seed's `exchange_name`). */
  injectExchange: string;
  /** Routing key of the inject binding on `injectExchange`. */
  injectKey: string;
  /** Inject messages that could not be accepted, with the reason in `x-fastmta-error`. */
  injectDeadQueue: string;
  /** Fanout exchange of config events; each node binds its own exclusive queue. */
  configExchange: string;
}

/** Header naming why an inject message was dead-lettered. */
export const INJECT_ERROR_HEADER = "x-fastmta-error";

/** "250ms", "1s", "2m", "1h": tier names that say their TTL. */
export function tierName(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/**
 * The broker names for a prefix. Delay queue names carry their TTL: a queue's TTL cannot be
 * changed in place, so a new tier set declares new queues and the old ones simply drain.
 */
export function brokerNames(prefix: string, levels: number, tiersMs: number[]): BrokerNames {
  const workKeys = Array.from({ length: levels }, (_, level) => `p${level}`);
  return {
    workExchange: `${prefix}.work`,
    workQueues: workKeys.map((key) => `${prefix}.work.${key}`),
    workKeys,
    delayQueues: [...new Set(tiersMs)].sort((a, b) => a - b).map((ttlMs) => ({
      ttlMs,
      name: `${prefix}.delay.${tierName(ttlMs)}`,
    })),
    injectQueue: `${prefix}.inject`,
    injectExchange: prefix,
    injectKey: "inject",
    injectDeadQueue: `${prefix}.inject.dead`,
    configExchange: `${prefix}.config`,
  };
}

/** Version of the `InjectMessage` format below. */
export const INJECT_FORMAT_VERSION = 1;

/**
 * What applications publish to the inject queue (JSON, see docs/inbound.md). Either `raw` (the
 * RFC 5322 message, text) or `raw_base64`, or structured fields (`subject`, `text`, `html`,
 * `headers`) from which a message is composed.
 */
export interface InjectMessage {
  v?: typeof INJECT_FORMAT_VERSION;
  /** Envelope sender; "" for the null sender (bounces). */
  from: string;
  /** Envelope recipients. */
  to: string[];
  raw?: string;
  raw_base64?: string;
  subject?: string;
  text?: string;
  html?: string;
  /** Extra header fields for a composed message; also `From`/`To` to override the defaults. */
  headers?: Record<string, string>;
  /** Outbound pool (vmta group) to send from. */
  pool?: string;
  /** 0 (normal) … `rabbitmq.priorities - 1`. */
  priority?: number;
  /** Stored with the message (tenant, campaign, your own id…). */
  metadata?: Record<string, unknown>;
}

/** Version of the `ConfigEvent` format below. */
export const CONFIG_EVENT_VERSION = 1;

/**
 * Broadcast on the config fanout exchange after an override or a config object was written.
 * Readers must accept events without the optional fields (older writers).
 */
export interface ConfigEvent {
  v: typeof CONFIG_EVENT_VERSION;
  type: "config";
  /** The node (or CLI) that wrote it. */
  by: string;
  at: number;
  /** Override keys written (config_sync.ts); empty for an object change. */
  keys: string[];
  /** Added for config objects (core/manage): the kinds changed, e.g. ["vmta"]. */
  kinds?: string[];
  /** Added for config objects: the cluster config version after the change. */
  version?: number;
}

/**
 * Groups recipients by destination domain, preserving order; duplicates dropped. Two addresses
 * are duplicates when they are the same mailbox (core/mail `mailboxKey`): the domain's case does
 * not matter, the local part's does (RFC 5321 §2.4), so `Bob@x` and `bob@x` are two recipients.
 */
export function splitByDomain(recipients: string[]): Map<string, string[]> {
  const byDomain = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const address of recipients) {
    const key = mailboxKey(address);
    if (seen.has(key)) continue;
    seen.add(key);
    const domain = domainOf(address);
    let list = byDomain.get(domain);
    if (!list) byDomain.set(domain, list = []);
    list.push(address);
  }
  return byDomain;
}

/**
 * A message's delivery units, one per destination domain, with their ids. Every queue
 * implementation derives units here so that a unit id means the same thing in SQL and on the
 * broker: `<message id>.<n>` in order of first appearance.
 */
export function unitsOf(
  message: Pick<NewMessage, "id" | "recipients">,
): { unitId: string; domain: string; recipients: string[] }[] {
  return [...splitByDomain(message.recipients)].map(([domain, recipients], n) => ({
    unitId: `${message.id}.${n}`,
    domain,
    recipients,
  }));
}

/** Message meta as stored and queued (JSON text): an object, or null when absent or unreadable. */
export function parseMeta(text: string | null): Record<string, unknown> | null {
  if (text === null || text === "") return null;
  try {
    const value = JSON.parse(text);
    return value !== null && typeof value === "object" ? value : null;
  } catch {
    return null;
  }
}
