/**
 * SMTP delivery, the deliverer fastmta ships: the route plan (route_plan.ts), then the
 * source/MX loop (source_loop.ts) over the worker's connection pools.
 *
 * Talks to: remote MX hosts, DNS, MTA-STS policy hosts.
 * Reads config: delivery.*, dns.*, routes, ip_addressess (outbound).
 */
import type { RecipientResult } from "../contracts/mod.ts";
import { type Attempted, type Deliverer, type DeliveryJob, noFacts } from "./deliverer.ts";
import { planRoute } from "./route_plan.ts";
import type { SmtpContext } from "./smtp_context.ts";
import { trySources } from "./source_loop.ts";

/** Delivers units over SMTP. */
export class SmtpDeliverer implements Deliverer {
  readonly ctx: SmtpContext;

  constructor(ctx: SmtpContext) {
    this.ctx = ctx;
  }

  async deliver(job: DeliveryJob): Promise<Attempted> {
    const { unit } = job;
    const facts = noFacts();
    const plan = await planRoute(this.ctx, unit, job.message.control, job.destination);
    facts.site = plan.site;
    facts.pool = plan.pool;
    if (plan.kind === "held") {
      return { kind: "held", reason: plan.reason, until: plan.until, why: plan.why, facts };
    }
    if (plan.kind === "stopped") {
      const results = new Map<string, RecipientResult>();
      for (const address of unit.recipients) {
        results.set(address, { address, outcome: plan.outcome, code: null, reply: plan.reply });
      }
      return { kind: "tried", results, reason: plan.reason, retry: plan.rule, facts };
    }
    const loop = await trySources(this.ctx, job, plan, facts);
    if (loop.kind === "held") {
      return { kind: "held", reason: loop.reason, until: loop.until, why: loop.why, facts };
    }
    return { kind: "tried", results: loop.results, reason: loop.reason, retry: plan.rule, facts };
  }

  /** Closes idle connections (giving their cluster slots back). */
  close(): Promise<void> {
    return this.ctx.pools.closeAll();
  }
}
