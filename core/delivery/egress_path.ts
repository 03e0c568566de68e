/**
 * The state of one egress path (one source IP × one destination site, KumoMTA's "ready queue"):
 * its open and idle connections, the deliveries waiting for one, its backoff and its rate
 * buckets. Pools (core/delivery/pool.ts) change it; nothing here does I/O.
 */
import type { TlsMode } from "../config/delivery_schema.ts";
import type { SiteSlot } from "../cluster/shaping.ts";
import type { TokenBucket } from "./limits.ts";
import { mxMatchesPolicy } from "../routing/mta_sts.ts";
import type { SmtpClientConnection } from "./smtp_client.ts";
import type { Source } from "../routing/sources.ts";

/** What TLS a delivery needs from its connection. */
export interface TlsNeeds {
  mode: TlsMode;
  /** MTA-STS enforce: the MX host must match one of these patterns (and TLS must verify). */
  stsMx?: readonly string[];
}

/** A connection in a pool, with what it was opened for. */
export interface PooledConnection {
  conn: SmtpClientConnection;
  path: EgressPath;
  mxName: string;
  address: string;
  /** The idle check's timer; it may stay armed while the connection is in use (pool.ts). */
  timer: ReturnType<typeof setTimeout> | null;
  /** When {@link timer} fires. */
  timerAt: number;
  /** When the connection, idle since its last release, is closed (if still idle then). */
  idleUntil: number;
  /** The site's cluster slot this connection holds (null when the site has no cluster limit). */
  slot: SiteSlot | null;
}

/** One source IP × one site. */
export class EgressPath {
  readonly key: string;
  readonly source: Source;
  readonly site: string;
  open = 0;
  idle: PooledConnection[] = [];
  waiters: (() => void)[] = [];
  backoffUntil = 0;
  backoffReason = "";
  connectionBucket: TokenBucket | null = null;
  messageBuckets: TokenBucket[] = [];
  /** When the next unit held by the message rate is due (spreads a held backlog). */
  nextHoldSlot = 0;
  /** The same for units held by the site's cluster message rate. */
  nextClusterHoldSlot = 0;
  /** A delivery of this path is asking for a cluster slot (others wait behind it). */
  clusterAsking = false;
  /** The site's cluster slots were all taken when last asked: ask again only after this. */
  clusterFullUntil = 0;
  lastUsed = 0;

  constructor(source: Source, site: string) {
    this.source = source;
    this.site = site;
    this.key = `${source.ip ?? ""}|${site}`;
  }
}

/** Whether `address` can be reached from `source` (same IP family; any without a source). */
export function sameFamily(source: string | null, address: string): boolean {
  if (source === null) return true;
  return source.includes(":") === address.includes(":");
}

/** Whether a pooled connection meets a delivery's TLS needs. */
export function satisfies(pooled: PooledConnection, needs: TlsNeeds): boolean {
  const tls = pooled.conn.tls;
  if (needs.stsMx) {
    return tls !== null && tls.verified && mxMatchesPolicy(pooled.mxName, needs.stsMx);
  }
  if (needs.mode === "verify") return tls !== null && tls.verified;
  if (needs.mode === "required") return tls !== null;
  return true;
}
