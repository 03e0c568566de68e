/**
 * Where a stage runs (workers/_stage.ts, issue 19): the supervisor drives a stage in the main
 * isolate (cli/stage_endpoint.ts) and stages sharing one worker (cli/stage_host.ts) with the same
 * messages as a worker of its own; shared memory stays shared; a failure of an in-process stage
 * goes to its crash handler (by default: the process ends), and so does any error nothing caught
 * once delivery runs in the main isolate; a crash of a shared worker restarts every stage in it,
 * together in one new worker.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { waitUntil } from "./helpers/wait.ts";
import type { Config } from "../core/config/mod.ts";
import { startWorker } from "../cli/supervisor.ts";
import { inProcessStage } from "../cli/stage_endpoint.ts";
import { StageHost } from "../cli/stage_host.ts";
import type { FromWorker } from "../workers/protocol.ts";
import { fakeStage } from "./fixtures/fake_stage.ts";
import { repoRoot } from "./helpers/server_process.ts";

const config = { nodeId: "stage-test" } as unknown as Config;

Deno.test("an in-process stage is driven like a worker and shares its SharedArrayBuffer", async () => {
  const seen: FromWorker[] = [];
  const counters = new SharedArrayBuffer(16);
  const handle = await startWorker(
    "fake",
    { inProcess: fakeStage },
    config,
    0,
    (message) => seen.push(message),
    { dailyCounters: counters },
  );
  assert(handle.alive());
  assertEquals(new Int32Array(counters)[0], 7, "the stage wrote into the same memory");
  handle.post({ type: "units", units: [] });
  await waitUntil(() => seen.some((m) => m.type === "settled"), { message: "settled" });
  await handle.stop(5_000);
});

Deno.test("a failing in-process stage goes to its crash handler", async () => {
  const crashed = Promise.withResolvers<[string, unknown]>();
  const endpoint = inProcessStage(fakeStage, "fake-0", (name, error) => {
    crashed.resolve([name, error]);
  });
  endpoint.postMessage({ type: "rules", rules: [] });
  const [name, error] = await crashed.promise;
  assertEquals(name, "fake-0");
  assertMatch((error as Error).message, /failed in its handler/);
  endpoint.terminate();
});

Deno.test("a crashed shared worker restarts both of its stages in one new worker", async () => {
  const host = new StageHost(
    "fake-shared",
    () => {},
    new URL("./fixtures/fake_stages_worker.ts", import.meta.url),
  );
  const settled = { a: [] as number[], b: [] as number[] };
  const readies = { a: 0, b: 0 };
  const start = (kind: "a" | "b", stage: "smtp" | "delivery") =>
    startWorker(kind, { host, stage }, config, 0, (message) => {
      if (message.type === "ready") readies[kind]++;
      if (message.type === "settled") settled[kind].push(message.count);
    });
  const a = await start("a", "smtp");
  const b = await start("b", "delivery");
  a.post({ type: "units", units: [] });
  b.post({ type: "units", units: [] });
  await waitUntil(() => settled.a.length === 1 && settled.b.length === 1);
  assertEquals(settled, { a: [2], b: [2] }, "both stages run in one worker");

  // An uncaught error in the worker (from a timer): both stages see it and come back.
  a.post({ type: "rules", rules: [{} as never] });
  await waitUntil(() => readies.a === 2 && readies.b === 2 && a.alive() && b.alive(), {
    message: "both stages restarted",
  });
  a.post({ type: "units", units: [] });
  b.post({ type: "units", units: [] });
  await waitUntil(() => settled.a.length === 2 && settled.b.length === 2);
  assertEquals(settled, { a: [2, 2], b: [2, 2] }, "together again in the new worker");
  await Promise.all([a.stop(5_000), b.stop(5_000)]);
});

for (const failure of ["throw", "reject"] as const) {
  Deno.test(`an uncaught ${failure} in the main isolate is logged and ends it with code 70`, async () => {
    // In a child process: the guard ends the process it is installed in.
    const fail = failure === "throw"
      ? 'throw new Error("boom from a timer")'
      : 'void Promise.reject(new Error("boom from a timer"))';
    const guard = JSON.stringify(`${repoRoot()}/cli/stage_endpoint.ts`);
    const script = `
      import { exitOnUncaughtError } from ${guard};
      exitOnUncaughtError();
      setTimeout(() => { ${fail}; }, 1);
      setTimeout(() => console.log("still running"), 5_000);
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const result = await child.output();
    const out = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 70, out);
    assertMatch(out, /in the main isolate.*exiting so the node is restarted.*boom from a timer/s);
    assert(!out.includes("still running"), out);
  });
}
