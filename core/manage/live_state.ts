/**
 * From stored objects to the parts of a node's resolved config they replace (MANAGED_PARTS in
 * core/cluster/live.ts): `vmtas`, `delivery.pools`, `routes`, `smtp.listeners`, `bounceRules`, `bouncePolicies`
 * (ordered as the classifier tries them). Pure: the live
 * view (live_view.ts) calls it on every poll, so a warm-up step that begins today applies
 * without a change being made.
 *
 * - A vmta or listener with a `node` applies only on that node.
 * - A disabled vmta stays in the list with weight 0: the selector never picks it (no new
 *   connections, mail in flight finishes) and the indexes of the others do not move.
 * - Pool members that are not vmtas of this node are left out (another node's IPs).
 */
import { resolve } from "node:path";
import {
  type BouncePolicy,
  type BounceRule,
  type Config,
  modeForPort,
  type SmtpListener,
  type Vmta,
} from "../config/mod.ts";
import { orderBounceRules } from "../bounce/operator_rules.ts";
import type { ConfigObjectRecord } from "../store/mod.ts";
import type { CertificateFiles } from "./tls_files.ts";
import type {
  BouncePolicyBody,
  BounceRuleBody,
  ListenerBody,
  PoolBody,
  RouteBody,
  VmtaBody,
} from "./kinds.ts";

const DAY = 86_400_000;

/** The managed parts of one node's config. */
export interface ManagedParts {
  vmtas: Vmta[];
  pools: Config["delivery"]["pools"];
  routes: Config["routes"];
  listeners: SmtpListener[];
  bounceRules: BounceRule[];
  bouncePolicies: BouncePolicy[];
}

function bodies<T>(objects: ConfigObjectRecord[], kind: string): T[] {
  const out: T[] = [];
  for (const o of objects) {
    if (o.kind !== kind) continue;
    try {
      out.push(JSON.parse(o.body) as T);
    } catch { /* never written by the service */ }
  }
  return out;
}

const here = (nodeId: string) => (o: { node?: string }) => !o.node || o.node === nodeId;

/** Today's cap of a vmta: its warm-up step for today, else its `daily_cap`. */
export function dailyCapOf(vmta: VmtaBody, now: number): number | undefined {
  if (vmta.warmup && vmta.warmup.length > 0 && vmta.warmup_start) {
    const day = Math.floor((now - Date.parse(vmta.warmup_start)) / DAY);
    const steps = [...vmta.warmup].sort((a, b) => a.day - b.day);
    const step = steps.filter((s) => s.day <= day).pop() ?? steps[0];
    return step.daily_cap;
  }
  return vmta.daily_cap;
}

/** The parts for `nodeId` from every live object. */
export function managedParts(
  objects: ConfigObjectRecord[],
  nodeId: string,
  now = Date.now(),
  certificates: ReadonlyMap<string, CertificateFiles> = new Map(),
  /** `smtp.tls.certificate`: served by listeners without their own (when it is stored). */
  defaultCertificate?: string,
): ManagedParts {
  const fallback = defaultCertificate ? certificates.get(defaultCertificate) : undefined;
  const vmtaBodies = bodies<VmtaBody>(objects, "vmta").filter(here(nodeId))
    .sort((a, b) => a.ip.localeCompare(b.ip));
  const vmtas: Vmta[] = vmtaBodies.map((v) => {
    const cap = dailyCapOf(v, now);
    return {
      ip: v.ip,
      hostname: v.hostname,
      group: v.pool,
      weight: v.enabled ? v.weight : 0,
      ...(cap !== undefined ? { dailyCap: cap } : {}),
    };
  });
  const disabled = new Set(vmtaBodies.filter((v) => !v.enabled).map((v) => v.ip));
  const known = new Set(vmtas.map((v) => v.ip));
  const pools: ManagedParts["pools"] = {};
  for (const pool of bodies<PoolBody>(objects, "pool")) {
    const ips = pool.ips.flatMap((m) => {
      const spec = typeof m === "string" ? { ip: m } : m;
      if (!known.has(spec.ip)) return [];
      return [disabled.has(spec.ip) ? { ...spec, weight: 0 } : spec];
    });
    if (ips.length > 0) pools[pool.name] = { ips };
  }
  const routes: ManagedParts["routes"] = {};
  for (const r of bodies<RouteBody>(objects, "route")) {
    const { domain, ...route } = r;
    routes[domain] = route;
  }
  const listeners: SmtpListener[] = bodies<ListenerBody>(objects, "listener")
    .filter(here(nodeId)).filter((l) => l.enabled)
    // A listener naming a certificate this node has not got is not bound (LiveView says so):
    // serving the default certificate instead would hide the mistake.
    .filter((l) => !l.tls_certificate || certificates.has(l.tls_certificate))
    .sort((a, b) => `${a.ip}:${a.port}`.localeCompare(`${b.ip}:${b.port}`))
    .map((l) => ({
      host: l.ip,
      port: l.port,
      mode: l.mode ?? modeForPort(l.port),
      ...(l.tls_certificate ? { certificate: certificates.get(l.tls_certificate)! } : {}),
      ...(!l.tls_certificate && !l.certificate && fallback ? { certificate: fallback } : {}),
      ...(l.certificate
        ? {
          certificate: {
            cert: resolve(l.certificate.cert_file),
            key: resolve(l.certificate.key_file),
          },
        }
        : {}),
    }));
  const bounceRules = orderBounceRules(
    bodies<BounceRuleBody>(objects, "bounce_rule").map((b) => ({
      name: b.name,
      pattern: b.pattern,
      ...(b.code !== undefined ? { code: b.code } : {}),
      category: b.category,
      priority: b.priority,
    })),
  );
  // Sorted by id so that the signature (and the order stages see) does not depend on the store.
  const bouncePolicies: BouncePolicy[] = objects.filter((o) => o.kind === "bounce_policy")
    .sort((a, b) => a.id.localeCompare(b.id))
    .flatMap((o) => bodies<BouncePolicyBody>([o], "bounce_policy"));
  return { vmtas, pools, routes, listeners, bounceRules, bouncePolicies };
}

/** `config` with `parts` in place of its managed parts (a copy; `config` is not changed). */
export function withParts(config: Config, parts: ManagedParts): Config {
  return {
    ...config,
    vmtas: parts.vmtas,
    routes: parts.routes,
    delivery: { ...config.delivery, pools: parts.pools },
    smtp: { ...config.smtp, listeners: parts.listeners },
    bounceRules: parts.bounceRules,
    bouncePolicies: parts.bouncePolicies,
  };
}
