/**
 * The source/MX loop of one SMTP attempt: pick a source IP of the pool, get the message admitted
 * on that (source IP, site) path, borrow a connection (hosts in MX order), run the transactions
 * and turn every reply into a per-recipient result. A reply that matches a backoff pattern puts
 * the path into backoff and may retry the deferred recipients from another source IP.
 */
import type {
  HoldReason,
  LeasedUnit,
  RecipientResult,
  RetryReason,
  TryRecord,
} from "../contracts/mod.ts";
import type { PreparedMessage } from "./body.ts";
import type { AttemptFacts } from "./deliverer.ts";
import type { EffectiveRule } from "../routing/policy.ts";
import type { EgressPath, HostProblem, PooledConnection } from "./pool.ts";
import type { Route } from "./route_plan.ts";
import { formatReply, type Reply } from "./smtp_client.ts";
import type { SmtpContext } from "./smtp_context.ts";
import type { Source } from "../routing/sources.ts";
import {
  heldByPrefix,
  type SourcePause,
  sourcePauseFor,
  unitTagOf,
} from "../routing/source_pauses.ts";
import { type Envelope, transactions } from "./transactions.ts";

/** The reply recorded when a message's body vanished from the store. */
export const BODY_MISSING = "message body missing from the store";

/** How the loop ended: held back before anything was tried, or tried (results by address). */
export type LoopResult =
  | { kind: "held"; reason: HoldReason; until: number; why: string }
  | { kind: "tried"; results: Map<string, RecipientResult>; reason: RetryReason };

/** What one source IP's turn decided: try the next source, or stop with what was found. */
type Turn = "next_source" | "stop" | LoopResult;

/**
 * Runs the loop for `unit` on `route`, filling `facts` (source IP, MX host, TLS, earlier tries).
 * Results of sources tried stand when a later one is held back.
 */
export function trySources(
  ctx: SmtpContext,
  job: { unit: LeasedUnit; message: PreparedMessage; started: number },
  route: Route,
  facts: AttemptFacts,
): Promise<LoopResult> {
  return new SourceLoop(ctx, job, route, facts).run();
}

/** One attempt's loop over source IPs; its state is the results so far. */
class SourceLoop {
  #ctx: SmtpContext;
  #unit: LeasedUnit;
  #route: Route;
  #message: PreparedMessage;
  #facts: AttemptFacts;
  /** When the attempt began. */
  #started: number;
  /** Per-recipient results so far (a switched source IP retries the deferred ones). */
  #results = new Map<string, RecipientResult>();
  #reason: RetryReason = "remote";
  #tried = new Set<Source>();
  #pending: string[];

  constructor(
    ctx: SmtpContext,
    job: { unit: LeasedUnit; message: PreparedMessage; started: number },
    route: Route,
    facts: AttemptFacts,
  ) {
    this.#ctx = ctx;
    this.#unit = job.unit;
    this.#message = job.message;
    this.#started = job.started;
    this.#route = route;
    this.#facts = facts;
    this.#pending = [...job.unit.recipients];
  }

  async run(): Promise<LoopResult> {
    while (this.#pending.length > 0) {
      const turn = await this.#turn();
      if (turn === "next_source") continue;
      if (turn !== "stop") return turn;
      break;
    }
    return this.#finished();
  }

  #finished(): LoopResult {
    return { kind: "tried", results: this.#results, reason: this.#reason };
  }

  /** One source IP: pick, admit, borrow a connection, send. */
  async #turn(): Promise<Turn> {
    const { pool, site, rule } = this.#route;
    const ctx = this.#ctx;
    const tried = this.#tried;
    const now = Date.now();
    let pause: SourcePause | null = null;
    const pauses = ctx.sourcePauses ?? [];
    const unit = { domain: this.#unit.domain, tag: unitTagOf(this.#unit.meta), site, pool };
    const picked = ctx.sources.pick(
      pool,
      (source) => tried.has(source) ? Infinity : ctx.pools.backoffUntil(source, site),
      now,
      (source) => {
        if (pauses.length === 0 || tried.has(source)) return false;
        const found = sourcePauseFor(pauses, source, unit, now);
        pause ??= found;
        return found !== null;
      },
    );
    if (!("hostname" in picked)) {
      if (tried.size > 0) return "stop"; // Results of the sources tried stand.
      if (picked.kind === "paused") return this.#paused(pause!, now);
      if (picked.kind === "empty") {
        return this.#all("connect", "deferred", `pool ${pool} has no usable source IP`);
      }
      return {
        kind: "held",
        reason: picked.kind === "backoff" ? "backoff" : "local_limit",
        until: picked.until,
        why: picked.kind === "backoff"
          ? `every source of pool ${pool} is in backoff for ${site}`
          : `every source of pool ${pool} reached its daily cap`,
      };
    }
    const source = picked;
    tried.add(source);
    // Counted at once against the daily cap (no await since the pick), given back if held.
    ctx.sources.count(source);
    this.#facts.sourceIp = source.ip;
    const path = ctx.pools.path(source, site);
    const admitted = await ctx.pools.admitMessage(path, rule);
    if (admitted.kind === "held") return this.#heldAt(source, admitted);
    const acquired = await ctx.pools.acquire(path, rule, {
      hosts: this.#route.hosts,
      helo: source.hostname,
      tls: this.#route.tls,
      route: this.#route.settings,
      ca: ctx.ca,
    });
    if (acquired.kind === "held") return this.#heldAt(source, acquired);
    if (acquired.kind === "failed") return this.#connectFailed(source, path, acquired.problems);
    logTries(this.#facts, source, acquired.problems);
    return await this.#send(source, path, acquired.pooled);
  }

  /** Every source of the pool is paused: held naming the pause, until it ends or the recheck. */
  #paused(pause: SourcePause, now: number): Turn {
    const { config } = this.#ctx;
    return {
      kind: "held",
      reason: "cluster_pause",
      until: Math.min(pause.endsAt ?? Infinity, now + config.delivery.pause_recheck),
      why: `${
        heldByPrefix(pause.id, config.nodeId)
      }(${pause.why}): every source of pool ${this.#route.pool} is paused`,
    };
  }

  /** A hold on a source: the whole unit is held, unless an earlier source's results stand. */
  #heldAt(source: Source, held: { reason: HoldReason; until: number; why: string }): Turn {
    this.#ctx.sources.count(source, -1);
    if (this.#tried.size > 1) return "stop";
    return { kind: "held", reason: held.reason, until: held.until, why: held.why };
  }

  /** Every host failed before a transaction: temporary, unless the last said 5xx at the door. */
  #connectFailed(source: Source, path: EgressPath, problems: HostProblem[]): Turn {
    const last = problems[problems.length - 1];
    logTries(this.#facts, source, problems.slice(0, -1));
    this.#facts.mxHost = last.host;
    this.#facts.remoteIp = last.address || null;
    const backoff = matchBackoff(this.#route.rule, problems.map((p) => p.reply));
    const code = last.reply?.code ?? null;
    const text = `${last.host}[${last.address}] ${last.stage}: ${last.message}`;
    this.#reason = last.stage === "tls" || last.stage === "starttls" ? "tls" : "connect";
    for (const address of this.#pending) {
      this.#results.set(address, {
        address,
        outcome: code !== null && code >= 500 ? "failed" : "deferred",
        code,
        reply: text,
      });
    }
    if (backoff) {
      this.#ctx.pools.backoff(path, backoff.duration, text);
      if (backoff.action === "switch_ip") return "next_source";
    }
    return "stop";
  }

  /** Sends the message on a borrowed connection and records the replies. */
  async #send(source: Source, path: EgressPath, pooled: PooledConnection): Promise<Turn> {
    const ctx = this.#ctx;
    const rule = this.#route.rule;
    const pending = this.#pending;
    const envelopes = await this.#envelopes(pending);
    if (!Array.isArray(envelopes)) {
      // Nothing was sent on this connection: it goes back to the pool as it was.
      ctx.pools.release(pooled, rule);
      ctx.sources.count(source, -1);
      if ("missing" in envelopes) return this.#all(this.#reason, "failed", BODY_MISSING);
      return this.#all("local", "deferred", envelopes.hold);
    }
    const facts = this.#facts;
    facts.mxHost = pooled.mxName;
    facts.remoteIp = pooled.address;
    facts.tls = pooled.conn.tls !== null;
    facts.tlsVersion = pooled.conn.tls?.protocol ?? null;
    facts.tlsVerified = pooled.conn.tls?.verified ?? false;
    const replies = await transactions(ctx.pools, pooled, rule, envelopes);
    const results = this.#results;
    if (replies.kind === "broken") {
      // The connection broke mid-transaction: whatever was not answered is deferred.
      this.#reason = "connect";
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
      return "stop";
    }
    for (const r of replies.results) results.set(r.address, r);
    this.#reason = "remote";
    const backoff = matchBackoff(rule, replies.replies);
    if (!backoff) return "stop";
    ctx.pools.backoff(path, backoff.duration, replies.replies.map(formatReplyOrEmpty).join("; "));
    if (backoff.action !== "switch_ip") return "stop";
    this.#pending = pending.filter((a) => results.get(a)?.outcome === "deferred");
    if (this.#pending.length === 0) return "stop";
    const deferred = results.get(this.#pending[0])!;
    facts.tries.push({
      at: Date.now(),
      durationMs: Date.now() - this.#started,
      sourceIp: source.ip,
      mxHost: pooled.mxName,
      remoteIp: pooled.address,
      code: deferred.code,
      reply: `${deferred.reply} (switching source IP)`,
    });
    return "next_source";
  }

  /**
   * The envelopes for `pending`: one for all (the stored sender and bytes), or one per
   * recipient when the personalize hook wants it (VERP, List-Unsubscribe); else why none.
   */
  async #envelopes(pending: string[]): Promise<Envelope[] | { missing: true } | { hold: string }> {
    const personal = this.#message.personalized(this.#unit, this.#route.pool);
    if (!personal) {
      const prepared = await this.#message.wire();
      if (!("body" in prepared)) return prepared;
      return [{ sender: this.#unit.sender, recipients: pending, body: prepared.body }];
    }
    const envelopes: Envelope[] = [];
    for (const recipient of pending) {
      const { sender, body } = await personal(recipient);
      if (!("body" in body)) return body;
      envelopes.push({ sender, recipients: [recipient], body: body.body });
    }
    return envelopes;
  }

  /** Every recipient not delivered yet gets the same result, and the loop ends. */
  #all(reason: RetryReason, outcome: "deferred" | "failed", reply: string): LoopResult {
    this.#reason = reason;
    for (const address of this.#unit.recipients) {
      if (this.#results.get(address)?.outcome === "delivered") continue;
      this.#results.set(address, { address, outcome, code: null, reply });
    }
    return this.#finished();
  }
}

function formatReplyOrEmpty(reply: Reply | null): string {
  return reply ? formatReply(reply) : "";
}

function logTries(facts: AttemptFacts, source: Source, problems: HostProblem[]) {
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
    facts.tries.push(record);
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
