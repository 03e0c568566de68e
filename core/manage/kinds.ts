/**
 * The configuration object kinds: each one's schema (zod, snake_case fields), how its id is
 * formed and who may change it. The schemas are the single definition the service validates
 * against; the REST API and the CLI take them from here.
 *
 * Node-local objects (vmtas, listeners: an IP belongs to one machine, a socket binds on one
 * node) carry an optional `node`: unset means every node, else only the node with that id. Their
 * id then starts with it (`node-a/10.0.0.5`), so two machines may use the same private address.
 */
import { z } from "zod";
import { duration, route, shapingPattern, shapingRule } from "../config/delivery_schema.ts";
// The files: nothing here may load mailparser (bounce reports) into the main thread.
import { BOUNCE_CATEGORIES, isBounceCategory } from "../bounce/classify.ts";
import { bouncePatternProblem, MAX_PATTERN_LENGTH } from "../bounce/operator_rules.ts";
import type { Role } from "./types.ts";
import { type TlsCertificateBody, tlsCertificateSchema } from "./tls_certificate_kind.ts";

/** How one kind is validated, identified and guarded. */
export interface ObjectKind<T = Record<string, unknown>> {
  /** Singular, snake_case: "vmta", "shaping_rule". */
  readonly kind: string;
  readonly schema: z.ZodType<T, unknown>;
  /** The object's id, from its body. */
  idOf(body: T): string;
  /** The field path named when an update would change the id. */
  readonly idPath: string;
  /** Who may create, update, delete (default admin). */
  readonly writeRoles?: readonly Role[];
  /** Dotted paths of secrets: stored, never shown (secrets.ts). */
  readonly secretPaths?: readonly string[];
}

const ip = z.union([z.ipv4(), z.ipv6()], { error: "Expected an IPv4 or IPv6 address" });
// Loose on purpose: whatever a config file already names (group_id "1", "mx_1.example") seeds.
const name = z.string().regex(/^[^\s/]{1,64}$/, "Expected 1-64 characters, no spaces or /");
const hostname = z.string().regex(
  /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/,
  "Expected a host name like mta1.example.com",
);
const node = name.optional().meta({
  description: "Only on this node (its id); every node when unset.",
});

function scoped(body: { node?: string }, id: string): string {
  return body.node ? `${body.node}/${id}` : id;
}

/** One step of an IP's warm-up: from `day` (0 = the first day) on, at most `daily_cap` a day. */
const warmupStep = z.object({
  day: z.number().int().min(0),
  daily_cap: z.number().int().min(0),
}).strict();

/** A virtual MTA: a source IP with its EHLO name, pool, weight and warm-up. */
export const vmtaSchema = z.object({
  ip,
  hostname,
  pool: name.default("default"),
  weight: z.number().min(0).default(1),
  daily_cap: z.number().int().min(0).optional(),
  /** Warm-up schedule; the step of the current day (counted from `warmup_start`) caps it. */
  warmup: z.array(warmupStep).optional(),
  /** When the warm-up began (ISO date); required with `warmup`. */
  warmup_start: z.iso.date().optional(),
  /** Disabled: no new connections from it; mail in flight finishes. */
  enabled: z.boolean().default(true),
  node,
}).strict().refine((v) => !v.warmup || v.warmup_start, {
  path: ["warmup_start"],
  message: "Required when warmup is set",
});
export type VmtaBody = z.output<typeof vmtaSchema>;

const poolMember = z.union([
  ip,
  z.object({
    ip,
    weight: z.number().min(0).optional(),
    daily_cap: z.number().int().min(0).optional(),
  }).strict(),
]);

/** A named pool; vmtas join it by their `pool`, `ips` adds members (as delivery.pools). */
export const poolSchema = z.object({
  name,
  description: z.string().max(500).optional(),
  ips: z.array(poolMember).default([]),
}).strict();
export type PoolBody = z.output<typeof poolSchema>;

/** An SMTP listener (ip, port, mode, certificate). */
export const listenerSchema = z.object({
  /** An address of this host (a name such as localhost is bound as it resolves). */
  ip: z.union([ip, hostname], { error: "Expected an IP address or a host name" }),
  port: z.number().int().min(1).max(65535),
  mode: z.enum(["smtp", "submission", "smtps"]).optional(),
  /** Certificate and key files (PEM); the node's `smtp.tls` pair when unset. */
  certificate: z.object({ cert_file: z.string().min(1), key_file: z.string().min(1) }).strict()
    .optional(),
  /** A managed certificate (kind tls_certificate) by name, instead of `certificate` files. */
  tls_certificate: name.optional().meta({
    description: "The name of a managed TLS certificate (tls-certificates) this listener " +
      "serves; instead of certificate files.",
  }),
  enabled: z.boolean().default(true),
  node,
}).strict().refine((l) => !(l.certificate && l.tls_certificate), {
  path: ["tls_certificate"],
  message: "Not allowed together with certificate (files): name one or the other",
});
export type ListenerBody = z.output<typeof listenerSchema>;

/** A transport-map entry: mail for `domain` (or `*`) goes to `host` instead of its MX. */
export const routeSchema = route.extend({
  domain: z.string().regex(
    /^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)$/,
    'Expected "*" or a domain like example.com',
  ).transform((d) => d.toLowerCase()),
}).strict();
export type RouteBody = z.output<typeof routeSchema>;

/** A stored shaping rule (as `fastmta shaping` writes it). */
export const shapingRuleSchema = z.object({ pattern: shapingPattern, rule: shapingRule })
  .strict();
export type ShapingRuleBody = z.output<typeof shapingRuleSchema>;

/**
 * How long one kind of record is kept. Defined and stored here; nothing applies it yet: the
 * data-retention work (a later issue) prunes by these objects (docs/management.md).
 */
export const retentionSchema = z.object({
  scope: z.enum(["messages", "attempts", "audit", "events", "suppressions"]),
  max_age: duration,
}).strict().meta({
  description: "How long one kind of record is to be kept. Stored only: nothing prunes by it " +
    "yet (the data-retention work will).",
});
export type RetentionBody = z.output<typeof retentionSchema>;

/**
 * A bounce classification rule: a reply whose text matches `pattern` (an RE2 regular
 * expression, case-insensitive: linear-time matching, no lookaround or backreferences) and,
 * when set, whose code is `code` gets `category`. Tried before the built-in rules, lower
 * `priority` first, then by name (core/bounce/operator_rules.ts); applied live on every node.
 */
export const bounceRuleSchema = z.object({
  name,
  pattern: z.string().min(1).max(MAX_PATTERN_LENGTH).superRefine((p, ctx) => {
    if (p.length > MAX_PATTERN_LENGTH) return; // said by max()
    const problem = bouncePatternProblem(p);
    if (problem) {
      ctx.addIssue({ code: "custom", message: `Expected an RE2 regular expression: ${problem}` });
    }
  }),
  code: z.number().int().min(200).max(599).optional(),
  category: z.string().refine(isBounceCategory, {
    error: `Expected a bounce category: one of ${BOUNCE_CATEGORIES.join(", ")}`,
  }),
  priority: z.number().int().default(100),
}).strict().meta({
  description: "A bounce classification rule, tried before the built-in ones (lower priority " +
    "first, then name): a reply matching `pattern` (RE2, case-insensitive) and `code` (when " +
    "set) gets `category`. Applied live by every node.",
});
export type BounceRuleBody = z.output<typeof bounceRuleSchema>;

const policyDomain = z.string().regex(
  /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i,
  "Expected a domain name such as bounces.example.com",
).transform((d) => d.toLowerCase());

/**
 * Bounce handling for the whole cluster (`scope` default), one sending domain or one pool:
 * VERP, one-click unsubscribe, extra bounce/feedback domains, delayed DSNs. Every field left
 * out falls back to the next wider policy, then to the file's `bounce.*` keys
 * (core/bounce/policy.ts); the most specific policy wins (sending domain, pool, default).
 */
export const bouncePolicySchema = z.object({
  scope: z.enum(["default", "sending_domain", "pool"]),
  sending_domain: policyDomain.optional().meta({
    description: "The sending domain (envelope sender) it applies to; scope sending_domain.",
  }),
  pool: name.optional().meta({ description: "The pool it applies to; scope pool." }),
  verp: z.object({
    enabled: z.boolean(),
    domain: policyDomain.optional(),
    prefix: z.string().regex(/^[a-z0-9]{1,8}$/i, "Expected 1-8 letters or digits").optional(),
  }).strict().optional().meta({ description: "VERP return paths (docs/bounces.md)." }),
  unsubscribe: z.object({
    enabled: z.boolean(),
    base_url: z.url({ protocol: /^https?$/ }).optional(),
  }).strict().optional().meta({ description: "One-click unsubscribe links (RFC 8058)." }),
  domains: z.array(policyDomain).optional().meta({
    description: "More bounce/feedback domains this server takes mail for (never relayed).",
  }),
  delay_notice: z.object({
    after: duration.optional(),
    mode: z.enum(["requested", "always"]).optional(),
  }).strict().optional().meta({ description: "Delayed DSNs (scope default only)." }),
}).strict().superRefine((p, ctx) => {
  const need = (field: "sending_domain" | "pool", wanted: boolean) => {
    if (wanted && !p[field]) {
      ctx.addIssue({ code: "custom", path: [field], message: `Required when scope is ${p.scope}` });
    } else if (!wanted && p[field]) {
      ctx.addIssue({
        code: "custom",
        path: [field],
        message: `Not allowed when scope is ${p.scope}`,
      });
    }
  };
  need("sending_domain", p.scope === "sending_domain");
  need("pool", p.scope === "pool");
  if (p.delay_notice && p.scope !== "default") {
    ctx.addIssue({ code: "custom", path: ["delay_notice"], message: "Only on the default policy" });
  }
}).meta({
  description: "Bounce handling (VERP, unsubscribe links, bounce domains, delayed DSNs) for " +
    "the cluster, one sending domain or one pool; overrides the file's bounce.* keys.",
});
export type BouncePolicyBody = z.output<typeof bouncePolicySchema>;

/** The id of a bounce policy: "default", "domain:example.com" or "pool:bulk". */
export function bouncePolicyId(p: BouncePolicyBody): string {
  if (p.scope === "sending_domain") return `domain:${p.sending_domain}`;
  return p.scope === "pool" ? `pool:${p.pool}` : "default";
}

/** Every kind, by name. */
export const KINDS = {
  vmta: {
    kind: "vmta",
    schema: vmtaSchema,
    idOf: (v: VmtaBody) => scoped(v, v.ip),
    idPath: "ip",
  } as ObjectKind<VmtaBody>,
  pool: {
    kind: "pool",
    schema: poolSchema,
    idOf: (p: PoolBody) => p.name,
    idPath: "name",
  } as ObjectKind<PoolBody>,
  listener: {
    kind: "listener",
    schema: listenerSchema,
    idOf: (l: ListenerBody) => scoped(l, `${l.ip.includes(":") ? `[${l.ip}]` : l.ip}:${l.port}`),
    idPath: "port",
  } as ObjectKind<ListenerBody>,
  route: {
    kind: "route",
    schema: routeSchema,
    idOf: (r: RouteBody) => r.domain,
    idPath: "domain",
    secretPaths: ["auth.password"],
  } as ObjectKind<RouteBody>,
  shaping_rule: {
    kind: "shaping_rule",
    schema: shapingRuleSchema,
    idOf: (s: ShapingRuleBody) => s.pattern,
    idPath: "pattern",
    writeRoles: ["admin", "operator"],
  } as ObjectKind<ShapingRuleBody>,
  retention: {
    kind: "retention",
    schema: retentionSchema,
    idOf: (r: RetentionBody) => r.scope,
    idPath: "scope",
  } as ObjectKind<RetentionBody>,
  bounce_rule: {
    kind: "bounce_rule",
    schema: bounceRuleSchema,
    idOf: (b: BounceRuleBody) => b.name,
    idPath: "name",
  } as ObjectKind<BounceRuleBody>,
  bounce_policy: {
    kind: "bounce_policy",
    schema: bouncePolicySchema,
    idOf: bouncePolicyId,
    idPath: "scope",
  } as ObjectKind<BouncePolicyBody>,
  tls_certificate: {
    kind: "tls_certificate",
    schema: tlsCertificateSchema,
    idOf: (c: TlsCertificateBody) => c.name,
    idPath: "name",
    secretPaths: ["private_key"],
  } as ObjectKind<TlsCertificateBody>,
} as const;

/** A kind's name. */
export type KindName = keyof typeof KINDS;

/** Whether `kind` is a configuration object kind. */
export function isKind(kind: string): kind is KindName {
  return Object.hasOwn(KINDS, kind);
}
