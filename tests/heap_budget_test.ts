/**
 * The per-isolate garbage budget (core/heap_budget.ts): when it asks V8 to collect, and that the
 * real `gc` of `--expose-gc` accepts what it passes.
 */
import { type GcFunction, startHeapBudget } from "../core/heap_budget.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { repoRoot } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const MB = 1024 * 1024;

Deno.test("heap budget: does nothing where V8 does not expose gc", () => {
  assertEquals(typeof (globalThis as { gc?: unknown }).gc, "undefined");
  const stop = startHeapBudget({ intervalMs: 1 });
  stop();
});

Deno.test("heap budget: collects after growing one step past the lowest reading", async () => {
  let used = 10 * MB;
  let reads = 0;
  const calls: Parameters<GcFunction>[0][] = [];
  const stop = startHeapBudget({
    stepBytes: 3 * MB,
    intervalMs: 2,
    minGapMs: 0,
    gc: (options) => void calls.push(options),
    usedBytes: () => {
      reads++;
      return used;
    },
  });
  // Waits until the budget has looked at the current reading a few more times.
  const looked = async (times = 3) => {
    const target = reads + times;
    await waitUntil(() => reads >= target);
  };
  try {
    used = 12.5 * MB; // within the step
    await looked();
    assertEquals(calls.length, 0);
    used = 13.5 * MB; // past it
    await waitUntil(() => calls.length === 1);
    assertEquals(calls[0], { type: "major", execution: "async" });
    used = 16 * MB; // the base moved to 13.5 MB when it asked
    await looked();
    assertEquals(calls.length, 1);
    used = 11 * MB; // the collection freed memory: new low point
    await looked();
    used = 14.5 * MB;
    await waitUntil(() => calls.length === 2);
  } finally {
    stop();
  }
});

Deno.test("heap budget: 3 MB steps below 32 MB, a quarter of the low point above", async () => {
  let used = 20 * MB;
  let reads = 0;
  let calls = 0;
  const stop = startHeapBudget({
    intervalMs: 2,
    minGapMs: 0,
    gc: () => void calls++,
    usedBytes: () => {
      reads++;
      return used;
    },
  });
  const looked = async (times = 3) => {
    const target = reads + times;
    await waitUntil(() => reads >= target);
  };
  try {
    used = 23.5 * MB; // past 3 MB on a small heap
    await waitUntil(() => calls === 1);
    used = 40 * MB; // a large heap: the base moves to 40 MB, whose step is 10 MB
    await waitUntil(() => calls === 2);
    used = 48 * MB;
    await looked();
    assertEquals(calls, 2);
    used = 50.5 * MB;
    await waitUntil(() => calls === 3);
  } finally {
    stop();
  }
});

Deno.test("heap budget: asks at most once per minimum gap", async () => {
  let used = 10 * MB;
  const asked: number[] = [];
  const stop = startHeapBudget({
    stepBytes: MB,
    intervalMs: 2,
    minGapMs: 300,
    gc: () => void asked.push(performance.now()),
    usedBytes: () => used,
  });
  try {
    used = 12 * MB;
    await waitUntil(() => asked.length === 1);
    used = 20 * MB; // far past the step at once, but the next ask waits for the gap
    await waitUntil(() => asked.length === 2);
    // 1 ms of slack: each time is taken just after the budget's own clock reading.
    assert(asked[1] - asked[0] >= 299, `asked again after ${asked[1] - asked[0]} ms`);
  } finally {
    stop();
  }
});

Deno.test("heap budget: V8's exposed gc takes its options and collects", async () => {
  // A child isolate with --expose-gc: garbage ArrayBuffers must make the budget call gc.
  const script = `
    import { startHeapBudget } from ${JSON.stringify(`${repoRoot()}/core/heap_budget.ts`)};
    const real = globalThis.gc;
    let calls = 0;
    globalThis.gc = (options) => { calls++; real(options); };
    startHeapBudget({ intervalMs: 5 });
    const deadline = Date.now() + 30_000;
    while (calls === 0 && Date.now() < deadline) {
      for (let i = 0; i < 8; i++) new Uint8Array(256 * 1024).fill(1);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    console.log(calls > 0 ? "collected" : "never collected");
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", "-A", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const result = await out.output();
  const text = new TextDecoder().decode(result.stdout).trim();
  assertEquals(
    { code: result.code, text },
    { code: 0, text: "collected" },
    new TextDecoder().decode(result.stderr),
  );
});
