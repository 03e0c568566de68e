/**
 * Delivers one leased unit (one message to one domain): resolve the destination, try its hosts
 * in order until one takes the transaction, and turn every reply into a per-recipient result.
 * Connection-level trouble (refused, timeout, 4xx greeting) moves on to the next host; a reply
 * inside the transaction is the answer for this attempt.
 */
import type { Config, Vmta } from "../config/mod.ts";
import type { LeasedUnit, RecipientResult, UnitOutcome } from "../queue/contracts.ts";
import type { MxResolver } from "./mx.ts";
import type { ConnectionPools } from "./pool.ts";
import { ConnectionError, formatReply, type Reply } from "./smtp_client.ts";
import { nextAttemptAt } from "./retry.ts";

/** What a delivery needs from its worker. */
export interface DeliveryContext {
  config: Config;
  resolver: MxResolver;
  pools: ConnectionPools;
  /** Picks the source for a unit; null means the OS default address. */
  pickVmta(unit: LeasedUnit): Vmta | null;
  readBody(messageId: string): Promise<Uint8Array | null>;
  /** [bounce hook] Splits off recipients that must not be tried (core/bounce suppression). */
  screen?(unit: LeasedUnit): Promise<{ unit: LeasedUnit; results: RecipientResult[] }>;
  /** [dkim hook] Signs the body before the transaction, or says to hold the unit (core/dkim). */
  sign?(body: Uint8Array): Promise<{ body: Uint8Array } | { hold: string }>;
}

function outcomeOf(code: number): "delivered" | "deferred" | "failed" {
  if (code >= 200 && code < 300) return "delivered";
  return code >= 500 ? "failed" : "deferred";
}

function allRecipients(
  unit: LeasedUnit,
  outcome: RecipientResult["outcome"],
  code: number | null,
  reply: string,
): RecipientResult[] {
  return unit.recipients.map((address) => ({ address, outcome, code, reply }));
}

/** Runs one delivery attempt and returns its outcome (never throws). */
export async function deliverUnit(ctx: DeliveryContext, unit: LeasedUnit): Promise<UnitOutcome> {
  const started = Date.now();
  // [bounce hook] Suppressed recipients fail here, before any connection.
  const screened = ctx.screen ? await ctx.screen(unit) : { unit, results: [] };
  unit = screened.unit;
  const vmta = ctx.pickVmta(unit);
  const base = {
    unitId: unit.unitId,
    messageId: unit.messageId,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    sourceIp: vmta?.ip ?? null,
    mxHost: null as string | null,
    remoteIp: null as string | null,
    tls: false,
  };
  const finish = (results: RecipientResult[]): UnitOutcome => {
    results = [...screened.results, ...results]; // [bounce hook]
    const now = Date.now();
    let retryAt: number | null = null;
    if (results.some((r) => r.outcome === "deferred")) {
      retryAt = nextAttemptAt(
        { schedule: ctx.config.delivery.retry_schedule, maxAge: ctx.config.delivery.max_age },
        unit,
        now,
      );
      if (retryAt === null) {
        results = results.map((r) =>
          r.outcome === "deferred"
            ? { ...r, outcome: "failed", reply: `${r.reply} (giving up: message too old)` }
            : r
        );
      }
    }
    return { ...base, at: now, durationMs: now - started, results, retryAt };
  };

  if (unit.recipients.length === 0) return finish([]); // [bounce hook] all suppressed
  let body = await ctx.readBody(unit.messageId);
  if (body === null) {
    return finish(allRecipients(unit, "failed", null, "message body missing from the store"));
  }
  // [dkim hook] Sign once per attempt; a failure may hold the unit (dkim.on_error).
  const signed = ctx.sign ? await ctx.sign(body) : { body };
  if ("hold" in signed) return finish(allRecipients(unit, "deferred", null, signed.hold));
  body = signed.body;
  const destination = await ctx.resolver.resolve(unit.domain);
  if (destination.kind === "permanent") {
    return finish(allRecipients(unit, "failed", null, destination.reason));
  }
  if (destination.kind === "temporary") {
    return finish(allRecipients(unit, "deferred", null, destination.reason));
  }

  const helo = vmta?.hostname ?? ctx.config.smtp.hostname;
  let lastProblem = "no host tried";
  let lastCode: number | null = null;
  for (const host of destination.hosts) {
    for (const address of host.addresses) {
      base.mxHost = host.name;
      base.remoteIp = address;
      let borrowed;
      try {
        borrowed = await ctx.pools.borrow(address, host.port, vmta?.ip, helo);
      } catch (error) {
        lastProblem = `${host.name}[${address}]: ${(error as Error).message}`;
        lastCode = null;
        continue;
      }
      if (borrowed.kind === "refused") {
        lastProblem = `${host.name}[${address}] refused at ${borrowed.stage}: ${
          formatReply(borrowed.reply)
        }`;
        lastCode = borrowed.reply.code;
        continue;
      }
      const conn = borrowed.conn;
      try {
        const result = await conn.transaction(unit.sender, unit.recipients, body);
        ctx.pools.release(conn);
        return finish(transactionResults(unit, result.mail, result.rcpt, result.data));
      } catch (error) {
        conn.close();
        ctx.pools.release(conn);
        if (!(error instanceof ConnectionError)) throw error;
        lastProblem = `${host.name}[${address}]: ${error.message}`;
        lastCode = null;
      }
    }
  }
  // Every host failed at connection level: temporary, unless all said 5xx at the door.
  const outcome = lastCode !== null && lastCode >= 500 ? "failed" : "deferred";
  return finish(allRecipients(unit, outcome, lastCode, lastProblem));
}

function transactionResults(
  unit: LeasedUnit,
  mail: Reply,
  rcpt: Reply[],
  data: Reply | null,
): RecipientResult[] {
  if (mail.code !== 250) {
    return allRecipients(unit, outcomeOf(mail.code), mail.code, `MAIL FROM: ${formatReply(mail)}`);
  }
  return unit.recipients.map((address, i) => {
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
