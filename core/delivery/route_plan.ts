/**
 * The route plan of one SMTP attempt: where the unit's domain goes (the dispatcher's answer or
 * a lookup), the shaping rule for it, the pool to send from, pauses, and the TLS it needs (an
 * enforced MTA-STS policy keeps only matching MX hosts).
 */
import { heldByPrefix, sitePauseFor, unitTagOf } from "../routing/source_pauses.ts";
import type { HoldReason, LeasedUnit, RetryReason } from "../contracts/mod.ts";
import { metaString } from "./headers.ts";
import type { Destination, MxHost, RouteSettings } from "../routing/mx.ts";
import { mxMatchesPolicy } from "../routing/mta_sts.ts";
import { choosePool, type EffectiveRule } from "../routing/policy.ts";
import type { TlsNeeds } from "./pool.ts";
import type { SmtpContext } from "./smtp_context.ts";

/** Where to send, and how. */
export interface Route {
  kind: "route";
  site: string;
  pool: string;
  rule: EffectiveRule;
  hosts: MxHost[];
  tls: TlsNeeds;
  settings?: RouteSettings;
}

/**
 * A route; a unit held back (paused); or no way to go, for every recipient: `failed` (the domain
 * cannot receive mail) or `deferred` (try again later, on the schedule of `reason`).
 */
export type RoutePlan =
  | Route
  | { kind: "held"; site: string; pool: string; reason: HoldReason; until: number; why: string }
  | {
    kind: "stopped";
    site: string | null;
    pool: string | null;
    rule: EffectiveRule | null;
    outcome: "failed" | "deferred";
    reason: RetryReason;
    reply: string;
  };

/** Plans the route of `unit`; `control` holds its control headers. */
export async function planRoute(
  ctx: SmtpContext,
  unit: LeasedUnit,
  control: Map<string, string>,
  dispatched: Destination | undefined,
): Promise<RoutePlan> {
  const destination = dispatched ?? await ctx.resolver.resolve(unit.domain);
  if (destination.kind !== "hosts") {
    return {
      kind: "stopped",
      site: null,
      pool: null,
      rule: null,
      outcome: destination.kind === "permanent" ? "failed" : "deferred",
      reason: "dns",
      reply: destination.reason,
    };
  }
  const site = destination.site;
  const policy = ctx.policy();
  const rule = policy.forDestination(unit.domain, destination.hosts.map((h) => h.name));
  const pool = choosePool(
    ctx.config,
    {
      sender: unit.sender,
      user: metaString(unit.meta, "user", "auth_user", "authUser"),
      headers: control,
      pool: metaString(unit.meta, "pool"),
    },
    (name) => ctx.sources.has(name),
    ctx.sources.defaultPool,
  );
  // A site pause (core/routing/source_pauses.ts): the site is known now, no connection made yet.
  const pauses = ctx.sourcePauses ?? [];
  if (pauses.length > 0) {
    const now = Date.now();
    const tag = unitTagOf(unit.meta);
    const held = sitePauseFor(pauses, { domain: unit.domain, tag, site, pool }, now);
    if (held) {
      const until = Math.min(held.endsAt ?? Infinity, now + ctx.config.delivery.pause_recheck);
      const why = `${heldByPrefix(held.id, ctx.config.nodeId)}(${held.why}): site ${site}`;
      return { kind: "held", site, pool, reason: "cluster_pause", until, why };
    }
  }
  if (policy.poolPaused(pool)) {
    const until = Date.now() + ctx.config.delivery.pause_recheck;
    return { kind: "held", site, pool, reason: "paused", until, why: `pool ${pool} paused` };
  }
  if (rule.paused) {
    const until = Date.now() + ctx.config.delivery.pause_recheck;
    const why = `${unit.domain} paused (${rule.sources.at(-1)})`;
    return { kind: "held", site, pool, reason: "paused", until, why };
  }

  // TLS needs: the route's, else the rule's; an enforced MTA-STS policy adds verified TLS to
  // matching MX hosts only.
  let hosts = destination.hosts;
  const tls: TlsNeeds = { mode: destination.route?.tls ?? rule.tls };
  if (rule.mtaSts && destination.via === "mx" && ctx.config.delivery.mta_sts.enabled) {
    const sts = await ctx.mtaSts.policyFor(unit.domain);
    if (sts?.mode === "enforce") {
      tls.stsMx = sts.mx;
      hosts = hosts.filter((h) => mxMatchesPolicy(h.name, sts.mx));
      if (hosts.length === 0) {
        return {
          kind: "stopped",
          site,
          pool,
          rule,
          outcome: "deferred",
          reason: "tls",
          reply: `no MX host of ${unit.domain} matches its MTA-STS policy`,
        };
      }
    }
  }
  return { kind: "route", site, pool, rule, hosts, tls, settings: destination.route };
}
