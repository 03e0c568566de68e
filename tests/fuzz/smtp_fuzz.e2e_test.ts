/**
 * Issue 18, hostile input: seeded, reproducible SMTP sessions (smtp_sessions.ts) against a real
 * server: 1 500 in CI, 10 000 with FASTMTA_HEAVY=1 (FASTMTA_FUZZ_SESSIONS overrides; the seed is
 * printed and taken from FASTMTA_FUZZ_SEED). Every reply line must be a valid SMTP reply, the
 * server must stay up, no worker may crash or restart, memory must stay bounded, and a normal
 * message afterwards is delivered. Sessions that once broke something are replayed first from
 * tests/fuzz/regressions/*.json (`{"seed": N, "index": N, "note": "…"}`).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "../helpers/e2e_fixture.ts";
import { heavy, seedFrom } from "../helpers/prng.ts";
import { sendWithSwaks } from "../helpers/server_process.ts";
import { readMem } from "../../bench/procstat.ts";
import { playMany, playSession } from "./smtp_runner.ts";
import { fuzzSession } from "./smtp_sessions.ts";

const REGRESSIONS = new URL("./regressions/", import.meta.url).pathname;

/** The recorded regression cases. */
function regressionCases(): { seed: number; index: number; note: string }[] {
  const cases = [];
  for (const entry of Deno.readDirSync(REGRESSIONS)) {
    if (entry.name.endsWith(".json")) {
      cases.push(JSON.parse(Deno.readTextFileSync(`${REGRESSIONS}${entry.name}`)));
    }
  }
  return cases;
}

/** Lines a crashed, failed or restarted worker leaves in the log. */
const WORKER_TROUBLE = /supervisor: \S+ (crashed|restarted|failed)|Uncaught|panicked/;

Deno.test("SMTP fuzzer: valid replies, server and workers up, memory bounded, mail flows after", async () => {
  const seed = seedFrom("FASTMTA_FUZZ_SEED");
  const sessions = Number(Deno.env.get("FASTMTA_FUZZ_SESSIONS") ?? (heavy() ? 10_000 : 1_500));
  console.log(`fuzz: ${sessions} sessions, seed ${seed} (FASTMTA_FUZZ_SEED=${seed})`);
  await using e2e = await startE2eFixture({ prefix: "fastmta-fuzz-" });
  const config = e2e.nodeConfig();
  // Relayed mail of the fuzz goes to the sink or nowhere; keep the sink's copies cheap.
  const server = await e2e.start(config);
  const rss = () => Math.round(readMem(server.pid, false).rssKb / 1024);
  const rssBefore = rss();
  const failures: string[] = [];
  const tally = { queued: 0, byClass: [0, 0, 0, 0, 0, 0], closedByServer: 0 };
  const play = async (s: ReturnType<typeof fuzzSession>) => {
    const outcome = await playSession(server.smtpHost, server.smtpPort, s);
    tally.queued += outcome.queued;
    outcome.classes.forEach((n, i) => tally.byClass[i] += n);
    if (outcome.closedByServer) tally.closedByServer++;
    if (outcome.invalid.length > 0 && failures.length < 20) {
      failures.push(
        `session seed=${s.seed} index=${s.index} [${s.mutations.join(",")}]: ` +
          outcome.invalid.slice(0, 3).join(" | "),
      );
    }
  };
  const started = Date.now();
  let rssPeak = rssBefore;
  try {
    for (const c of regressionCases()) await play(fuzzSession(c.seed, c.index));
    await playMany(sessions, 16, async (index) => {
      await play(fuzzSession(seed, index));
      if (index % 250 === 0) rssPeak = Math.max(rssPeak, rss());
    });
    const elapsed = (Date.now() - started) / 1000;
    const rssAfter = rss();
    const alive = await Promise.race([server.exited.then(() => false), Promise.resolve(true)]);
    console.log(
      `fuzz: ${sessions} sessions in ${elapsed.toFixed(0)} s; RSS before ${rssBefore} MB, ` +
        `peak ${rssPeak} MB, after ${rssAfter} MB; replies 2xx ${tally.byClass[2]} 3xx ` +
        `${tally.byClass[3]} 4xx ${tally.byClass[4]} 5xx ${tally.byClass[5]}; messages queued ` +
        `${tally.queued}; sessions closed by the server ${tally.closedByServer}`,
    );
    assert(alive, "the server is still running");
    assertEquals(failures, [], `invalid replies (seed ${seed})`);
    const trouble = server.logs().split("\n").filter((l) => WORKER_TROUBLE.test(l));
    assertEquals(trouble, [], `no worker died (seed ${seed})`);
    // Bounded: the heap budget and the intake limits hold, whatever came in.
    assert(rssAfter < rssBefore + 400, `RSS ${rssBefore} → ${rssAfter} MB (seed ${seed})`);

    // A normal message afterwards is delivered.
    e2e.sink.clearMessages();
    const sent = await sendWithSwaks({
      server: server.smtpAddress,
      from: "a@origin.test",
      to: [`after@${E2E_DOMAIN}`],
      data:
        `From: a@origin.test\r\nTo: after@${E2E_DOMAIN}\r\nSubject: after the fuzz\r\n\r\nok\r\n`,
    });
    assertEquals(sent.code, 0, sent.stdout);
    await e2e.sink.waitFor(
      (sink) => sink.messages.some((m) => m.rcptTo.includes(`after@${E2E_DOMAIN}`)),
      60_000,
      "the normal message at the sink",
    );
  } catch (error) {
    console.error(`fuzz seed ${seed}`);
    e2e.dump();
    throw error;
  }
});
