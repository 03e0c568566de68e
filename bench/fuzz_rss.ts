/**
 * Is the RSS growth under fuzzing a leak? (issue 18: "RSS rose 138 → 196 MB over 9 900 fuzzed
 * sessions and did not fall back when idle".) One server, `--rounds` rounds of `--sessions`
 * fuzzed SMTP sessions each (tests/fuzz), and after every round the RSS once the server has been
 * idle for `--idle` seconds. A leak grows round after round; allocator and heap high-water marks
 * grow in the first round(s) and then stay flat. With `--flags` the server runs with the V8
 * flags of `deno task start` (the heap budget's `--expose-gc` among them).
 *
 * `deno run -A bench/fuzz_rss.ts --rounds 5 --sessions 2000 [--flags]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startE2eFixture } from "../tests/helpers/e2e_fixture.ts";
import { playMany, playSession } from "../tests/fuzz/smtp_runner.ts";
import { fuzzSession } from "../tests/fuzz/smtp_sessions.ts";
import { readMem } from "./procstat.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    sessions: { type: "string", default: "2000" },
    idle: { type: "string", default: "15" },
    seed: { type: "string", default: "18" },
    flags: { type: "boolean", default: false },
  },
});
const START_FLAGS = "--max-semi-space-size=1,--heap-growing-percent=20,--single-threaded-gc," +
  "--expose-gc";
await using e2e = await startE2eFixture({ prefix: "fastmta-fuzzrss-" });
const server = await e2e.start(e2e.nodeConfig(), {
  env: values.flags ? { DENO_V8_FLAGS: START_FLAGS } : {},
});
const rss = () => Math.round(readMem(server.pid, false).rssKb / 1024);
const idleRss = async () => {
  let low = rss();
  for (let s = 0; s < Number(values.idle); s++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // sampling, idle on purpose
    low = Math.min(low, rss());
  }
  return low;
};
console.log(
  `flags ${
    values.flags ? START_FLAGS : "(none)"
  }; RSS at start ${rss()} MB, idle ${await idleRss()} MB`,
);
const sessions = Number(values.sessions);
for (let round = 0; round < Number(values.rounds); round++) {
  let peak = 0;
  await playMany(sessions, 16, async (i) => {
    await playSession(
      server.smtpHost,
      server.smtpPort,
      fuzzSession(Number(values.seed), round * sessions + i),
    );
    if (i % 200 === 0) peak = Math.max(peak, rss());
  });
  console.log(
    `round ${round + 1}: ${
      (round + 1) * sessions
    } sessions; peak ${peak} MB, after ${rss()} MB, idle ${await idleRss()} MB`,
  );
}
await server.stop();
