/**
 * The delivery seam: what takes one unit's prepared message to its recipients. SMTP
 * (smtp_deliverer.ts: routes and MX hosts, connection pools, source IPs) is the one fastmta
 * ships; a test sink, or a future maildir or HTTP delivery, is another `Deliverer`, chosen by a
 * {@link DelivererChoice}, without touching the rest of an attempt (body preparation, holds,
 * the outcome and its retry decision).
 */
import type {
  HoldReason,
  LeasedUnit,
  RecipientResult,
  RetryReason,
  TryRecord,
} from "../contracts/mod.ts";
import type { RetryPolicy } from "../settle/retry.ts";
import type { PreparedMessage } from "./body.ts";
import type { Destination } from "../routing/mx.ts";

/** One unit to deliver, its message, and (SMTP) where the dispatcher said its domain goes. */
export interface DeliveryJob {
  unit: LeasedUnit;
  message: PreparedMessage;
  /** When the attempt began (ms since the epoch). */
  started: number;
  destination?: Destination;
}

/** What an attempt found out about where it went (the outcome and the attempt rows carry it). */
export interface AttemptFacts {
  sourceIp: string | null;
  mxHost: string | null;
  remoteIp: string | null;
  tls: boolean;
  tlsVersion: string | null;
  tlsVerified: boolean;
  site: string | null;
  pool: string | null;
  tries: TryRecord[];
}

/**
 * What a deliverer reports: the unit held back without an attempt, or tried, with a result per
 * recipient it decided (the others count as deferred, "not attempted"), the reason deferred
 * ones were deferred for, and the retry settings of the rule in force (null: the default rule
 * of the domain).
 */
export type Attempted =
  | { kind: "held"; reason: HoldReason; until: number; why: string; facts: AttemptFacts }
  | {
    kind: "tried";
    results: Map<string, RecipientResult>;
    reason: RetryReason;
    retry: RetryPolicy | null;
    facts: AttemptFacts;
  };

/** Takes units to their recipients. */
export interface Deliverer {
  /** Tries the job's recipients; never throws for remote trouble. */
  deliver(job: DeliveryJob): Promise<Attempted>;
  /** Closes what it keeps open (idle connections, cluster slots). */
  close(): Promise<void>;
}

/**
 * Which deliverer a delivery runner uses: SMTP (the default), or one the caller built (a test
 * sink; a future maildir or HTTP delivery gets its own kind here).
 */
export type DelivererChoice = { kind: "smtp" } | { kind: "custom"; deliverer: Deliverer };

/** Facts of an attempt that has not gone anywhere yet. */
export function noFacts(): AttemptFacts {
  return {
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: false,
    tlsVersion: null,
    tlsVerified: false,
    site: null,
    pool: null,
    tries: [],
  };
}
