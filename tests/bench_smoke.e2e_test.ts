/**
 * The benchmark's quick mode as a smoke test: it must still run end to end (sink, fastmta, load
 * generator, report). It fails only on breakage; no timing is asserted (issue: a benchmark is not
 * a test).
 */
import { assertEquals } from "./helpers/assert.ts";
import { freePort, tempDir, uniqueLoopbackIp } from "./helpers/net.ts";

Deno.test("deno task bench --quick runs end to end", async () => {
  await using dir = tempDir("fastmta-bench-smoke-");
  const sinkIp = uniqueLoopbackIp();
  const mtaIp = uniqueLoopbackIp();
  const root = new URL("..", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "bench/run.ts",
      "--quick",
      "--no-record",
      "--sink-addr",
      `${sinkIp}:${freePort(sinkIp)}`,
      "--fastmta-addr",
      `${mtaIp}:${freePort(mtaIp)}`,
      "--fastmta-admin",
      `${mtaIp}:${freePort(mtaIp)}`,
      "--results",
      `${dir.path}/RESULTS.md`,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, text.slice(-4000));
});
