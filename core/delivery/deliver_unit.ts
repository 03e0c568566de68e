/**
 * Delivers one leased unit (one message to one domain): resolve the destination, pick the shaping
 * rule, the pool and a source IP, borrow a connection on that (source IP, site) path (hosts in MX
 * order), run the transaction(s) and turn every reply into a per-recipient result. A reply that
 * matches a backoff pattern puts the path into backoff and may retry from another source IP.
 *
 * The outcome is typed: recipients delivered / deferred (with the reason whose schedule sets the
 * next attempt) / failed, or the whole unit `held` (local limit, backoff, pause, scheduled send):
 * a held unit was not attempted and is due again at the given time.
 */
import { releaseBytes } from "../bytes.ts";
import type { Config } from "../config/mod.ts";
import type {
  HoldReason,
  LeasedUnit,
  RecipientResult,
  RetryReason,
  TryRecord,
  UnitOutcome,
} from "../contracts/mod.ts";
import type { Destination, MxResolver } from "../routing/mx.ts";
import type { ConnectionPools, HostProblem, PooledConnection, TlsNeeds } from "./pool.ts";
import {
  choosePool,
  type EffectiveRule,
  scheduleDelay,
  type ShapingPolicy,
} from "../routing/policy.ts";
import { parseDeliverAt, readControlHeaders } from "./headers.ts";
import type { MtaStsPolicies } from "../routing/mta_sts.ts";
import { mxMatchesPolicy } from "../routing/mta_sts.ts";
import type { Source, SourceSelector } from "../routing/sources.ts";
import { ConnectionError, formatReply, type Reply, type TransactionResult } from "./smtp_client.ts";

/** What a delivery needs from its worker. */
export interface DeliveryContext {
  config: Config;
  resolver: MxResolver;
  pools: ConnectionPools;
  /** The shaping rules in force (they change when rules are reloaded). */
  policy(): ShapingPolicy;
  sources: SourceSelector;
  mtaSts: MtaStsPolicies;
  /** Trusted CAs for verified TLS: Node's roots plus `delivery.tls_ca_file`, if set. */
  ca?: string[];
  readBody(messageId: string): Promise<Uint8Array | null>;
  /** The first `maxBytes` of a message and its full size (see `Store.readBodyHead`). */
  readBodyHead(
    messageId: string,
    maxBytes: number,
  ): Promise<{ head: Uint8Array; size: number } | null>;
  /** [bounce hook] Splits off recipients that must not be tried (core/bounce suppression). */
  screen?(unit: LeasedUnit): Promise<{ unit: LeasedUnit; results: RecipientResult[] }>;
  /** [dkim hook] Signs the body before the transaction, or says to hold the unit (core/dkim). */
  sign?(body: Uint8Array): Promise<{ body: Uint8Array } | { hold: string }>;
}

const BODY_MISSING = "message body missing from the store";

/** How much of a message is read before a connection is ready (its head). */
const HEAD_BYTES = 16_384;

/** The bytes to send, a DKIM hold, or a message that vanished. */
type WireBody = { body: Uint8Array } | { hold: string } | { missing: true };

/** Whether `head` holds the whole header section (an empty line ends it). */
function headerSectionEnds(head: Uint8Array): boolean {
  if (head[0] === 0x0a || (head[0] === 0x0d && head[1] === 0x0a)) return true;
  for (let i = head.indexOf(0x0a); i >= 0; i = head.indexOf(0x0a, i + 1)) {
    if (head[i + 1] === 0x0a || (head[i + 1] === 0x0d && head[i + 2] === 0x0a)) return true;
  }
  return false;
}

function outcomeOf(code: number): "delivered" | "deferred" | "failed" {
  if (code >= 200 && code < 300) return "delivered";
  return code >= 500 ? "failed" : "deferred";
}

function metaString(meta: LeasedUnit["meta"], ...keys: string[]): string | null {
  for (const key of keys) {
    const value = meta?.[key];
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
  }
  return null;
}

/** Runs one delivery attempt and returns its outcome (never throws for remote trouble). */
export async function deliverUnit(
  ctx: DeliveryContext,
  unit: LeasedUnit,
  dispatched?: Destination,
): Promise<UnitOutcome> {
  // The message buffers this attempt read or made; freed when it ends (core/bytes.ts).
  const buffers: Uint8Array[] = [];
  try {
    return await attempt(ctx, unit, dispatched, buffers);
  } finally {
    for (const bytes of buffers) releaseBytes(bytes);
  }
}

async function attempt(
  ctx: DeliveryContext,
  unit: LeasedUnit,
  dispatched: Destination | undefined,
  buffers: Uint8Array[],
): Promise<UnitOutcome> {
  const started = Date.now();
  // [bounce hook] Suppressed recipients fail here, before any connection.
  const screened = ctx.screen ? await ctx.screen(unit) : { unit, results: [] };
  unit = screened.unit;
  const outcome: UnitOutcome = {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at: started,
    durationMs: 0,
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: false,
    results: [],
    retryAt: null,
    reason: null,
    held: null,
    site: null,
    pool: null,
    tlsVersion: null,
    tlsVerified: false,
    nodeId: ctx.config.nodeId,
    tries: [],
  };
  const hold = (reason: HoldReason, until: number, why: string): UnitOutcome => {
    const now = Date.now();
    return {
      ...outcome,
      at: now,
      durationMs: now - started,
      held: { reason, until: Math.max(until, now + 1), why },
      results: screened.results, // [bounce hook] final even when the rest waits
    };
  };
  // Per-recipient results so far (a switched source IP retries the deferred ones).
  const results = new Map<string, RecipientResult>();
  let rule: EffectiveRule | null = null;
  let reason: RetryReason = "remote";
  const finish = (): UnitOutcome => {
    const now = Date.now();
    let list = unit.recipients.map((address) =>
      results.get(address) ??
        { address, outcome: "deferred" as const, code: null, reply: "not attempted" }
    );
    let retryAt: number | null = null;
    if (list.some((r) => r.outcome === "deferred")) {
      const effective = rule ?? ctx.policy().forDestination(unit.domain);
      const schedule = reason === "remote" || reason === "local"
        ? effective.retrySchedule
        : effective.connectRetrySchedule;
      retryAt = now + scheduleDelay(schedule, unit.attempts);
      if (retryAt - unit.createdAt > effective.maxAge) {
        retryAt = null;
        list = list.map((r) =>
          r.outcome === "deferred"
            ? { ...r, outcome: "failed", reply: `${r.reply} (giving up: message too old)` }
            : r
        );
      }
    }
    return {
      ...outcome,
      at: now,
      durationMs: now - started,
      results: [...screened.results, ...list], // [bounce hook]
      retryAt,
      reason: retryAt === null ? null : reason,
    };
  };
  const setAll = (outcomeKind: RecipientResult["outcome"], code: number | null, reply: string) => {
    for (const address of unit.recipients) {
      if (results.get(address)?.outcome === "delivered") continue;
      results.set(address, { address, outcome: outcomeKind, code, reply });
    }
  };

  if (unit.recipients.length === 0) return finish(); // [bounce hook] all suppressed
  // A unit may wait a while for a connection (limits, a slow site), and a worker has hundreds in
  // flight: until a connection is ready it keeps only the head of its message, enough for the
  // control headers. Most messages fit in the head and are read once; larger ones are read
  // whole when a connection is ready (measured: ~20 MB less memory with 100 KB messages).
  const missing = () => {
    setAll("failed", null, BODY_MISSING);
    return finish();
  };
  const first = await ctx.readBodyHead(unit.messageId, HEAD_BYTES);
  if (first === null) return missing();
  buffers.push(first.head);
  let whole = first.head.byteLength >= first.size ? first.head : null;
  if (whole === null && !headerSectionEnds(first.head)) {
    whole = await ctx.readBody(unit.messageId); // Headers longer than the head: read it all.
    if (whole === null) return missing();
    buffers.push(whole);
  }
  // Control headers steer delivery and are not sent on.
  const control = readControlHeaders(whole ?? first.head);
  const plainBody = whole === null ? null : control.body;
  if (plainBody) buffers.push(plainBody);
  const deliverAt = parseDeliverAt(
    metaString(unit.meta, "deliver_at", "deliverAt") ?? control.values.get("x-fastmta-deliver-at"),
  );
  if (deliverAt !== null && deliverAt > Date.now()) {
    return hold("scheduled", deliverAt, `scheduled for ${new Date(deliverAt).toISOString()}`);
  }

  const destination = dispatched ?? await ctx.resolver.resolve(unit.domain);
  if (destination.kind === "permanent") {
    reason = "dns";
    setAll("failed", null, destination.reason);
    return finish();
  }
  if (destination.kind === "temporary") {
    reason = "dns";
    setAll("deferred", null, destination.reason);
    return finish();
  }
  outcome.site = destination.site;
  const policy = ctx.policy();
  rule = policy.forDestination(unit.domain, destination.hosts.map((h) => h.name));
  const pool = choosePool(
    ctx.config,
    {
      sender: unit.sender,
      user: metaString(unit.meta, "user", "auth_user", "authUser"),
      headers: control.values,
      pool: metaString(unit.meta, "pool"),
    },
    (name) => ctx.sources.has(name),
    ctx.sources.defaultPool,
  );
  outcome.pool = pool;
  if (policy.poolPaused(pool)) {
    return hold("paused", Date.now() + ctx.config.delivery.pause_recheck, `pool ${pool} paused`);
  }
  if (rule.paused) {
    return hold(
      "paused",
      Date.now() + ctx.config.delivery.pause_recheck,
      `${unit.domain} paused (${rule.sources.at(-1)})`,
    );
  }

  // The bytes to send, made once a connection is ready: read if only the head was, then
  // [dkim hook] signed once per attempt (not for held units); a failure may defer
  // (dkim.on_error).
  let wire: Promise<WireBody> | null = null;
  const wireBody = () =>
    wire ??= (async (): Promise<WireBody> => {
      let plain = plainBody;
      if (plain === null) {
        const stored = await ctx.readBody(unit.messageId);
        if (stored === null) return { missing: true };
        buffers.push(stored);
        plain = readControlHeaders(stored).body;
        buffers.push(plain);
      }
      if (!ctx.sign) return { body: plain };
      const signed = await ctx.sign(plain);
      if ("body" in signed) buffers.push(signed.body);
      return signed;
    })();

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
        reason = "tls";
        setAll("deferred", null, `no MX host of ${unit.domain} matches its MTA-STS policy`);
        return finish();
      }
    }
  }

  const tried = new Set<Source>();
  let pending = [...unit.recipients];
  while (pending.length > 0) {
    const picked = ctx.sources.pick(
      pool,
      (source) => tried.has(source) ? Infinity : ctx.pools.backoffUntil(source, destination.site),
    );
    if (!("hostname" in picked)) {
      if (tried.size > 0) break; // Results of the sources tried stand.
      if (picked.kind === "empty") {
        reason = "connect";
        setAll("deferred", null, `pool ${pool} has no usable source IP`);
        return finish();
      }
      return hold(
        picked.kind === "backoff" ? "backoff" : "local_limit",
        picked.until,
        picked.kind === "backoff"
          ? `every source of pool ${pool} is in backoff for ${destination.site}`
          : `every source of pool ${pool} reached its daily cap`,
      );
    }
    const source = picked;
    tried.add(source);
    // Counted at once against the daily cap (no await since the pick), given back if held.
    ctx.sources.count(source);
    outcome.sourceIp = source.ip;
    const path = ctx.pools.path(source, destination.site);
    const admitted = await ctx.pools.admitMessage(path, rule);
    if (admitted.kind === "held") {
      ctx.sources.count(source, -1);
      if (tried.size > 1) break;
      return hold(admitted.reason, admitted.until, admitted.why);
    }
    const acquired = await ctx.pools.acquire(path, rule, {
      hosts,
      helo: source.hostname,
      tls,
      route: destination.route,
      ca: ctx.ca,
    });
    if (acquired.kind === "held") {
      ctx.sources.count(source, -1);
      if (tried.size > 1) break;
      return hold(acquired.reason, acquired.until, acquired.why);
    }
    const problems = acquired.problems;
    if (acquired.kind === "failed") {
      const last = problems[problems.length - 1];
      logTries(outcome, source, problems.slice(0, -1));
      outcome.mxHost = last.host;
      outcome.remoteIp = last.address || null;
      const backoff = matchBackoff(rule, problems.map((p) => p.reply));
      // Every host failed before a transaction: temporary, unless the last said 5xx at the door.
      const code = last.reply?.code ?? null;
      const text = `${last.host}[${last.address}] ${last.stage}: ${last.message}`;
      reason = last.stage === "tls" || last.stage === "starttls" ? "tls" : "connect";
      for (const address of pending) {
        results.set(address, {
          address,
          outcome: code !== null && code >= 500 ? "failed" : "deferred",
          code,
          reply: text,
        });
      }
      if (backoff) {
        ctx.pools.backoff(path, backoff.duration, text);
        if (backoff.action === "switch_ip") continue;
      }
      break;
    }

    logTries(outcome, source, problems);
    const pooled = acquired.pooled;
    const prepared = await wireBody();
    if (!("body" in prepared)) {
      // Nothing was sent on this connection: it goes back to the pool as it was.
      ctx.pools.release(pooled, rule);
      ctx.sources.count(source, -1);
      if ("missing" in prepared) return missing();
      reason = "local";
      setAll("deferred", null, prepared.hold);
      return finish();
    }
    const body = prepared.body;
    outcome.mxHost = pooled.mxName;
    outcome.remoteIp = pooled.address;
    outcome.tls = pooled.conn.tls !== null;
    outcome.tlsVersion = pooled.conn.tls?.protocol ?? null;
    outcome.tlsVerified = pooled.conn.tls?.verified ?? false;
    const replies = await transactions(ctx, pooled, rule, unit.sender, pending, body);
    if (replies.kind === "broken") {
      // The connection broke mid-transaction: whatever was not answered is deferred.
      reason = "connect";
      for (const address of pending) {
        if (!results.has(address) || results.get(address)!.outcome !== "delivered") {
          results.set(address, {
            address,
            outcome: "deferred",
            code: null,
            reply: `${pooled.mxName}[${pooled.address}]: ${replies.message}`,
          });
        }
      }
      for (const r of replies.results) results.set(r.address, r);
      break;
    }
    for (const r of replies.results) results.set(r.address, r);
    reason = "remote";
    const backoff = matchBackoff(rule, replies.replies);
    if (backoff) {
      ctx.pools.backoff(path, backoff.duration, replies.replies.map(formatReplyOrEmpty).join("; "));
      if (backoff.action === "switch_ip") {
        pending = pending.filter((a) => results.get(a)?.outcome === "deferred");
        if (pending.length > 0) {
          const deferred = pending.map((a) => results.get(a)!);
          outcome.tries!.push({
            at: Date.now(),
            durationMs: Date.now() - started,
            sourceIp: source.ip,
            mxHost: pooled.mxName,
            remoteIp: pooled.address,
            code: deferred[0].code,
            reply: `${deferred[0].reply} (switching source IP)`,
          });
          continue;
        }
      }
    }
    break;
  }
  return finish();
}

function formatReplyOrEmpty(reply: Reply | null): string {
  return reply ? formatReply(reply) : "";
}

function logTries(outcome: UnitOutcome, source: Source, problems: HostProblem[]) {
  for (const p of problems) {
    const record: TryRecord = {
      at: p.at,
      durationMs: p.durationMs,
      sourceIp: source.ip,
      mxHost: p.host,
      remoteIp: p.address || null,
      code: p.reply?.code ?? null,
      reply: `${p.stage}: ${p.message}`,
    };
    outcome.tries!.push(record);
  }
}

/** The first backoff pattern matching a 4xx/5xx reply, if any. */
function matchBackoff(rule: EffectiveRule, replies: (Reply | null)[]) {
  if (rule.backoff.length === 0) return null;
  for (const reply of replies) {
    if (!reply || reply.code < 400) continue;
    const text = formatReply(reply);
    const found = rule.backoff.find((b) => b.match.test(text));
    if (found) return found;
  }
  return null;
}

type Transactions =
  | { kind: "ok"; results: RecipientResult[]; replies: Reply[] }
  | { kind: "broken"; results: RecipientResult[]; message: string };

/**
 * Sends the message to `recipients` over one connection, at most
 * `max_recipients_per_transaction` per transaction, and gives the connection back.
 */
async function transactions(
  ctx: DeliveryContext,
  pooled: PooledConnection,
  rule: EffectiveRule,
  sender: string,
  recipients: string[],
  body: Uint8Array,
): Promise<Transactions> {
  const results: RecipientResult[] = [];
  const replies: Reply[] = [];
  try {
    for (let i = 0; i < recipients.length; i += rule.maxRecipientsPerTransaction) {
      const batch = recipients.slice(i, i + rule.maxRecipientsPerTransaction);
      const result = await pooled.conn.transaction(sender, batch, body);
      results.push(...transactionResults(batch, result));
      replies.push(result.mail, ...result.rcpt);
      if (result.data) replies.push(result.data);
    }
  } catch (error) {
    ctx.pools.discard(pooled);
    if (!(error instanceof ConnectionError)) throw error;
    return { kind: "broken", results, message: error.message };
  }
  ctx.pools.release(pooled, rule);
  return { kind: "ok", results, replies };
}

function transactionResults(recipients: string[], result: TransactionResult): RecipientResult[] {
  const { mail, rcpt, data } = result;
  if (mail.code !== 250) {
    const reply = `MAIL FROM: ${formatReply(mail)}`;
    return recipients.map((address) => ({
      address,
      outcome: outcomeOf(mail.code),
      code: mail.code,
      reply,
    }));
  }
  return recipients.map((address, i) => {
    const r = rcpt[i];
    if (!r || r.code < 200 || r.code >= 300) {
      const code = r?.code ?? 451;
      return { address, outcome: outcomeOf(code), code, reply: r ? formatReply(r) : "no reply" };
    }
    if (data === null) {
      return { address, outcome: "deferred", code: null, reply: "DATA not sent" };
    }
    return { address, outcome: outcomeOf(data.code), code: data.code, reply: formatReply(data) };
  });
}
