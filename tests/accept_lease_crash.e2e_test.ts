/**
 * Leases at accept when an SMTP worker dies between its group commit and its report
 * (docs/watchdog.md): the units it inserted leased and never reported go back to the queue at
 * once and are delivered within seconds, not at lease expiry (10 min here); a unit the
 * scheduler adopted from that worker and is delivering stays where it is (sent once).
 * The crash comes from the `report` fault point (core/fault_points.ts).
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { faultFires } from "../core/fault_points.ts";

const PLAN = { seed: "1", rate: 0.5 };

/** The first `<stem><n>@dest.test` whose first accept does (or does not) crash the worker. */
function recipient(stem: string, crashes: boolean): string {
  for (let n = 0;; n++) {
    const address = `${stem}${n}@${E2E_DOMAIN}`;
    if (faultFires(PLAN, "report", address, 0) === crashes) return address;
  }
}

Deno.test("an SMTP worker dying after its commit, before its report: its leased units are delivered at once, adopted ones once", async () => {
  const held = recipient("held", false);
  const lost = recipient("lost", true);
  // The sink holds its 250 to `held` until released: that delivery stays in flight.
  let release = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  let heldAttempts = 0;
  await using e2e = await startE2eFixture({
    prefix: "fastmta-lease-crash-",
    sinkReply: async (ctx) => {
      if (ctx.command !== "DATA_END" || !ctx.session.rcptTo.includes(held)) return undefined;
      heldAttempts++;
      await gate;
      return undefined;
    },
  });
  const config = e2e.nodeConfig();
  config.smtp.workers = 1;
  config.queue = { lease_at_accept: true }; // the default, said here: what this test is about
  const configPath = await e2e.writeConfig(config);
  const server = await e2e.start(config, {
    env: { FASTMTA_TEST_FAULTS: `seed=${PLAN.seed},rate=${PLAN.rate},stages=report` },
  });
  const send = (to: string) =>
    sendWithSwaks({
      server: server.smtpAddress,
      from: "a@origin.test",
      to: [to],
      data: `From: a@origin.test\r\nTo: ${to}\r\nSubject: crash\r\n\r\nbody\r\n`,
      timeoutSec: 10,
    });
  try {
    assertEquals((await send(held)).code, 0);
    await waitUntil(() => heldAttempts === 1, { message: "the adopted unit is being delivered" });

    await send(lost); // no answer: the worker dies after the commit
    await waitUntil(() => /smtp-0 crashed/.test(server.logs()), { message: "the crash" });
    await e2e.sink.waitFor(
      (sink) => sink.messages.some((m) => m.rcptTo.includes(lost)),
      20_000,
      "the unreported unit delivered well before its lease ends",
    );
    assertMatch(server.logs(), /returned 1 units leased at accept to the queue: smtp-0 crashed/);

    release();
    await e2e.sink.waitFor((sink) => sink.messages.length >= 2, 20_000, "both delivered");
    await waitUntil(async () => {
      const out = await runCli(["queue", "--config", configPath, "--json"]);
      const counts = JSON.parse(out.stdout);
      return counts.delivered === 2 && (counts.queued ?? 0) === 0;
    }, { message: "both settled as delivered" });
    const sent = e2e.sink.messages.map((m) => m.rcptTo.join(",")).sort();
    assertEquals(sent, [held, lost].sort(), "each sent once");
    assertEquals(heldAttempts, 1, "the adopted unit was not returned and sent again");
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
