/**
 * One delivery attempt of one leased unit (one message to one domain), in steps that each have
 * their module: split off suppressed recipients ([bounce hook]), prepare the body (body.ts:
 * control headers, the head only until a connection is ready), hold a scheduled send, hand the
 * unit to the deliverer (deliverer.ts; SMTP: route plan and source/MX loop), and build the
 * outcome (outcome.ts, with core/settle's retry decision).
 *
 * The outcome is typed: `final`, `deferred` (with the reason whose schedule sets the next
 * attempt) or `held` (local limit, backoff, pause, scheduled send): a held unit was not
 * attempted and is due again at the given time.
 */
import { releaseBytes } from "../bytes.ts";
import type { Config } from "../config/mod.ts";
import type { LeasedUnit, RecipientResult, UnitOutcome } from "../contracts/mod.ts";
import { type BodySource, prepareMessage } from "./body.ts";
import { type Deliverer, noFacts } from "./deliverer.ts";
import type { Destination } from "../routing/mx.ts";
import { type AttemptStart, heldOutcome, triedOutcome } from "./outcome.ts";
import type { ShapingPolicy } from "../routing/policy.ts";
import { BODY_MISSING } from "./source_loop.ts";

/** [bounce hook] Splits off recipients that must not be tried (core/bounce suppression). */
export type ScreenHook = (
  unit: LeasedUnit,
) => Promise<{ unit: LeasedUnit; results: RecipientResult[] }>;

/** What a delivery attempt needs from its worker; fixed when the worker's runner is built. */
export interface DeliveryContext extends BodySource {
  readonly config: Config;
  /** The shaping rules in force (they change when rules are reloaded). */
  policy(): ShapingPolicy;
  readonly deliverer: Deliverer;
  readonly screen?: ScreenHook;
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
  leased: LeasedUnit,
  dispatched: Destination | undefined,
  buffers: Uint8Array[],
): Promise<UnitOutcome> {
  const started = Date.now();
  // [bounce hook] Suppressed recipients fail here, before any connection.
  const screened = ctx.screen ? await ctx.screen(leased) : { unit: leased, results: [] };
  const unit = screened.unit;
  const start: AttemptStart = {
    unit,
    started,
    screened: screened.results,
    nodeId: ctx.config.nodeId,
  };
  const defaultRule = () => ctx.policy().forDestination(unit.domain);
  if (unit.recipients.length === 0) { // [bounce hook] all suppressed
    return triedOutcome(start, noFacts(), new Map(), "remote", defaultRule);
  }
  const prepared = await prepareMessage(ctx, unit, buffers);
  if (prepared.kind === "missing") {
    const results = new Map(unit.recipients.map((address) => [address, {
      address,
      outcome: "failed" as const,
      code: null,
      reply: BODY_MISSING,
    }]));
    return triedOutcome(start, noFacts(), results, "remote", defaultRule);
  }
  const { deliverAt } = prepared;
  if (deliverAt !== null && deliverAt > Date.now()) {
    return heldOutcome(start, noFacts(), {
      reason: "scheduled",
      until: deliverAt,
      why: `scheduled for ${new Date(deliverAt).toISOString()}`,
    });
  }
  const attempted = await ctx.deliverer.deliver({
    unit,
    message: prepared.message,
    started,
    destination: dispatched,
  });
  if (attempted.kind === "held") return heldOutcome(start, attempted.facts, attempted);
  const rule = attempted.retry;
  return triedOutcome(
    start,
    attempted.facts,
    attempted.results,
    attempted.reason,
    rule ? () => rule : defaultRule,
  );
}
