/**
 * Admission of one message, or one new connection, on an egress path: the path's backoff, the
 * rule's message and connection rates (token buckets taken ahead within `delivery.max_hold`)
 * and the site's cluster-wide message budget (core/cluster/shaping.ts).
 *
 * Reads config: delivery.max_hold; the shaping rule given.
 */
import type { Rate } from "../config/delivery_schema.ts";
import type { Config } from "../config/mod.ts";
import type { ClusterShaper, SendGrant } from "../cluster/shaping.ts";
import type { EgressPath } from "./egress_path.ts";
import { type Admission, admit, sleep, TokenBucket } from "./limits.ts";
import type { EffectiveRule } from "../routing/policy.ts";

/** A message admitted on a path, or held back. */
export type Admitted = { kind: "ok" } | {
  kind: "held";
  reason: "local_limit" | "cluster_limit" | "backoff";
  until: number;
  why: string;
};

/**
 * Admits one message on `path` under the path's backoff, the rule's message rates and the
 * site's cluster message rate.
 */
export async function admitMessage(
  path: EgressPath,
  rule: EffectiveRule,
  shaper: ClusterShaper,
  config: Config,
): Promise<Admitted> {
  const now = Date.now();
  if (path.backoffUntil > now) {
    return {
      kind: "held",
      reason: "backoff",
      until: path.backoffUntil,
      why: `${path.key} in backoff: ${path.backoffReason}`,
    };
  }
  if (rule.messageRates.length > 0) {
    rule.messageRates.forEach((rate, i) => {
      const bucket = path.messageBuckets[i];
      if (bucket) bucket.configure(rate);
      else path.messageBuckets[i] = new TokenBucket(rate, now);
    });
    path.messageBuckets.length = rule.messageRates.length;
    const admission = admit(path.messageBuckets, now, config.delivery.max_hold);
    if (admission.kind === "later") {
      // Held units come back one token interval apart, not all at the first token (which
      // would lease and hold the whole backlog again for each message sent).
      const interval = Math.max(...rule.messageRates.map((r) => r.per / r.count));
      const until = Math.max(admission.at, path.nextHoldSlot);
      path.nextHoldSlot = until + interval;
      return { kind: "held", reason: "local_limit", until, why: `message rate of ${path.key}` };
    }
    if (admission.kind === "wait") await sleep(admission.ms);
  }
  if (rule.clusterMessageRate) return await admitCluster(path, rule, shaper, config);
  return { kind: "ok" };
}

/**
 * One send of the site's cluster-wide budget (fixed windows of the rate's duration): now, or
 * after waiting for the next window when it starts within `delivery.max_hold`; else held.
 */
async function admitCluster(
  path: EgressPath,
  rule: EffectiveRule,
  shaper: ClusterShaper,
  config: Config,
): Promise<Admitted> {
  const rate = rule.clusterMessageRate!;
  const budget = { limit: rate.count, windowMs: rate.per };
  let grant: SendGrant;
  try {
    grant = await shaper.takeSends(path.site, 1, budget);
    if (!grant.ok && grant.retryAt - Date.now() <= config.delivery.max_hold) {
      // Just after the edge, spread, so that the deliveries waiting do not all ask at once.
      const jitter = Math.random() * Math.min(100, rate.per / 10);
      await sleep(Math.max(0, grant.retryAt - Date.now()) + jitter);
      grant = await shaper.takeSends(path.site, 1, budget);
    }
  } catch (error) {
    return {
      kind: "held",
      reason: "cluster_limit",
      until: Date.now() + rule.localLimitDelay,
      why: `cannot read the cluster message rate of ${path.site}: ${(error as Error).message}`,
    };
  }
  if (grant.ok) return { kind: "ok" };
  // Held units come back one send interval apart (as for the message rate above).
  const until = Math.max(grant.retryAt, path.nextClusterHoldSlot);
  path.nextClusterHoldSlot = until + rate.per / rate.count;
  return {
    kind: "held",
    reason: "cluster_limit",
    until,
    why: `cluster message rate of ${path.site}`,
  };
}

/** Asks the path's connection-rate bucket for one new connection now. */
export function admitConnection(path: EgressPath, rate: Rate, config: Config): Admission {
  const now = Date.now();
  if (!path.connectionBucket) {
    path.connectionBucket = new TokenBucket(rate, now);
  }
  path.connectionBucket.configure(rate);
  return admit([path.connectionBucket], now, config.delivery.max_hold);
}
