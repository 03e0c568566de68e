/**
 * A small garbage budget per isolate. V8 lets a small heap grow by at least ~8 MB before it starts
 * a full collection (its minimum allocation-limit step, whatever `--heap-growing-percent` says),
 * and message bodies live outside the heap as ArrayBuffers that only such a collection frees once
 * they have been promoted. fastmta ran three isolates (main, SMTP, delivery; two now that delivery
 * runs in the main isolate by default), so that slack, not live data, was most of the peak memory
 * above the idle baseline.
 *
 * With `--expose-gc` (set in deno.json's start, cli and compile tasks) each isolate asks V8 for a
 * full collection itself once heap + ArrayBuffer bytes have grown by the step since their last low
 * point: 3 MB, or a quarter of that point for a heap of 32 MB or more
 * ({@link HEAP_BUDGET_STEP_SHARE}).
 * Without the flag this does nothing. Measured with 100 KB messages × 20 sessions: peak RSS
 * 192–199 MB without, 180–182 MB with a 3 MB step, CPU per message unchanged within the noise
 * (docs/performance.md).
 */

/** How much an isolate's heap + ArrayBuffer bytes may grow before it collects, at least. */
export const HEAP_BUDGET_STEP = 3 * 1024 * 1024;

/**
 * ... and from {@link HEAP_BUDGET_LARGE_HEAP} on, this share of the last low reading. The
 * collection the budget asks for is a full, atomic one (`execution: "async"` only defers it to a
 * task), so its pause grows with the live heap: 60–170 ms for the main isolate's ~45 MB with the
 * admin app and the delivery engine in it, under load, every ~0.7 s, where V8's own incremental
 * marking paused it 38 ms at most (admin API p90 133 → 73 ms, bench/RESULTS.md 2026-12-04). A
 * quarter leaves a large heap to V8's own trigger (`--heap-growing-percent=20`); a tenth there
 * doubled the API's p90 again (session 13).
 */
export const HEAP_BUDGET_STEP_SHARE = 0.25;

/**
 * Below this low reading the step stays 3 MB: the worker heaps and the main isolate of a node
 * that is only scraped (~20–25 MB without the admin app), whose peak heap pages were 2.6 MB lower
 * with it than with a quarter (5.5 MB), CPU unchanged (session 13).
 */
export const HEAP_BUDGET_LARGE_HEAP = 32 * 1024 * 1024;

/** How often the isolate looks (one `Deno.memoryUsage()` call). */
export const HEAP_BUDGET_INTERVAL_MS = 200;

/**
 * At most one collection asked for per this many ms, which bounds what the budget can cost
 * (marking a ~15 MB heap takes a few ms of CPU); under heavier allocation V8's own trigger comes
 * soon enough. 500 ms kept most of the gain (1 000 ms: ~4 MB more at the peak).
 */
export const HEAP_BUDGET_MIN_GAP_MS = 500;

export type GcFunction = (
  options?: { type?: "major" | "minor"; execution?: "async" | "sync" },
) => void;

/** The isolate's `gc` function when V8 exposes it. */
function exposedGc(): GcFunction | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? gc as GcFunction : undefined;
}

/** The bytes the budget watches: live and dead heap objects plus ArrayBuffer memory. */
function usedBytes(): number {
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** What the budget reads and calls; tests pass their own. */
export interface HeapBudgetOptions {
  /** A fixed step; default: 3 MB, or a quarter of the base from 32 MB on. */
  stepBytes?: number;
  intervalMs?: number;
  minGapMs?: number;
  /** Default: the isolate's `gc` when `--expose-gc` is set. */
  gc?: GcFunction;
  /** Default: `Deno.memoryUsage()` heap used + external. */
  usedBytes?: () => number;
}

/**
 * Starts the budget in this isolate; returns a function that stops it. The timer is unref'd, so
 * it never keeps a process or worker alive.
 */
export function startHeapBudget(options: HeapBudgetOptions = {}): () => void {
  const gc = options.gc ?? exposedGc();
  if (!gc) return () => {};
  const step = options.stepBytes === undefined
    ? (low: number) =>
      low < HEAP_BUDGET_LARGE_HEAP ? HEAP_BUDGET_STEP : low * HEAP_BUDGET_STEP_SHARE
    : () => options.stepBytes!;
  const read = options.usedBytes ?? usedBytes;
  // The lowest reading since the last collection we asked for: once marking has finished the
  // reading drops, and that becomes the new base.
  let base = read();
  const minGap = options.minGapMs ?? HEAP_BUDGET_MIN_GAP_MS;
  let last = -Infinity;
  const timer = setInterval(() => {
    const used = read();
    if (used < base) base = used;
    const now = performance.now();
    if (used - base > step(base) && now - last >= minGap) {
      gc({ type: "major", execution: "async" });
      base = used;
      last = now;
    }
  }, options.intervalMs ?? HEAP_BUDGET_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
