/**
 * TEST ONLY: seeded, reproducible exceptions thrown from inside per-unit handling, to prove that
 * a failure while handling one unit affects that unit only
 * (tests/unit_isolation_fuzz.rabbitmq.pg.e2e_test.ts, docs/quarantine.md). Off unless the
 * environment variable `FASTMTA_TEST_FAULTS` is set, e.g.
 * `FASTMTA_TEST_FAULTS=seed=7,rate=0.2,stages=dispatch+deliver+settle+dsn+consume`; read once,
 * and when it is absent every fault point is one boolean test. A node that has it set says so
 * in its log at start (see {@link faultsBanner}); never set it in production.
 *
 * Whether a point throws is a pure function of (seed, stage, key, how many times this thread
 * passed that point for that key), so a run is reproducible whatever the timing.
 */

/**
 * The stages with a fault point. `report` is a crash, not an exception: the accepting thread
 * dies after a group commit, before it reports the batch (see {@link crashPoint}).
 */
export type FaultStage = "dispatch" | "deliver" | "settle" | "dsn" | "consume" | "report";

/** The error a fault point throws (its message names the stage and key). */
export class InjectedFault extends Error {
  constructor(stage: FaultStage, key: string) {
    super(`injected fault (${stage}) for ${key}`);
    this.name = "InjectedFault";
  }
}

interface FaultPlan {
  seed: string;
  rate: number;
  stages: Set<string>;
}

const ENV = "FASTMTA_TEST_FAULTS";
let plan: FaultPlan | null | undefined;
const passes = new Map<string, number>();

function readPlan(): FaultPlan | null {
  let text: string | undefined;
  try {
    text = Deno.env.get(ENV);
  } catch {
    return null; // no --allow-env: never on
  }
  if (!text) return null;
  const fields = new Map(
    text.split(",").map((part) => {
      const [key, ...rest] = part.split("=");
      return [key.trim(), rest.join("=").trim()] as const;
    }),
  );
  const rate = Number(fields.get("rate") ?? "0.1");
  return {
    seed: fields.get("seed") ?? "0",
    rate: Number.isFinite(rate) ? Math.min(Math.max(rate, 0), 1) : 0,
    stages: new Set((fields.get("stages") ?? "dispatch+deliver+settle+dsn+consume").split("+")),
  };
}

function activePlan(): FaultPlan | null {
  if (plan === undefined) plan = readPlan();
  return plan;
}

/** FNV-1a of a string, as a fraction in [0, 1). */
function fraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // One more mixing round: FNV's low bits alone are poorly spread for similar keys.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 0x1_0000_0000;
}

/**
 * Decides (and counts) one pass of `stage` for `key`: true when this pass is to fail. Use it
 * where the failure must be decided once and acted on later (dispatch, settle).
 */
export function faultDue(stage: FaultStage, key: string): boolean {
  const active = activePlan();
  if (active === null || !active.stages.has(stage)) return false;
  const name = `${stage}\u0000${key}`;
  const pass = passes.get(name) ?? 0;
  passes.set(name, pass + 1);
  return faultFires(active, stage, key, pass);
}

/** Whether pass `pass` of `stage` for `key` fails under a plan (pure; tests pick keys by it). */
export function faultFires(
  plan: { seed: string; rate: number },
  stage: FaultStage,
  key: string,
  pass: number,
): boolean {
  return fraction(`${plan.seed}\u0000${stage}\u0000${key}\u0000${pass}`) < plan.rate;
}

/**
 * When this pass of `stage` for `key` is to fail: makes the thread crash (an uncaught error,
 * as a bug would) and returns true, so the caller stops where it is.
 */
export function crashPoint(stage: FaultStage, key: string): boolean {
  if (!faultDue(stage, key)) return false;
  setTimeout(() => {
    throw new InjectedFault(stage, key);
  }, 0);
  return true;
}

/** Throws an {@link InjectedFault} when this pass of `stage` for `key` is to fail. */
export function faultPoint(stage: FaultStage, key: string): void {
  if (faultDue(stage, key)) throw new InjectedFault(stage, key);
}

/** A warning for the node's log when faults are on, else null. */
export function faultsBanner(): string | null {
  const active = activePlan();
  if (active === null) return null;
  return `WARNING: ${ENV} is set: injecting test faults (seed ${active.seed}, rate ` +
    `${active.rate}, stages ${[...active.stages].join("+")}); never use this in production`;
}
