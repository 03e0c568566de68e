/**
 * Issue 18: SIGTERM stops gracefully. Mail no longer comes in, a delivery in flight finishes and
 * is settled (the next start sends nothing again), and one that cannot finish within
 * `shutdown_timeout` is handed back: the process exits and the next start delivers it.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil, withTimeout } from "./helpers/wait.ts";

const MESSAGE = `From: a@origin.test\r\nTo: r@${E2E_DOMAIN}\r\nSubject: stop\r\n\r\nbody\r\n`;

async function queueCounts(configPath: string): Promise<Record<string, number>> {
  const out = await runCli(["queue", "--config", configPath, "--json"]);
  assertEquals(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

/** A sink whose 250 to the message waits for `release()` (the delivery stays in flight). */
function heldReplies() {
  let release = () => {};
  let held = 0;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    get held() {
      return held;
    },
    release: () => release(),
    reply: async (ctx: { command: string }) => {
      if (ctx.command !== "DATA_END") return undefined;
      held++;
      await gate;
      return undefined;
    },
  };
}

Deno.test("SIGTERM: an in-flight delivery finishes and is settled; nothing is sent twice", async () => {
  const hold = heldReplies();
  await using e2e = await startE2eFixture({ prefix: "fastmta-stop-", sinkReply: hold.reply });
  const config = e2e.nodeConfig();
  config.shutdown_timeout = "60s";
  const configPath = await e2e.writeConfig(config);
  const server = await e2e.start(config);
  const sent = await sendWithSwaks({
    server: server.smtpAddress,
    from: "a@origin.test",
    to: [`r@${E2E_DOMAIN}`],
    data: MESSAGE,
  });
  assertEquals(sent.code, 0, sent.stdout);
  await waitUntil(() => hold.held === 1, { message: "the delivery is in flight" });

  server.process.kill("SIGTERM");
  await waitUntil(() => /SIGTERM: shutting down/.test(server.logs()), { message: "stop began" });
  // No more mail is taken while the delivery finishes.
  await waitUntil(async () => {
    const late = await sendWithSwaks({
      server: server.smtpAddress,
      from: "a@origin.test",
      to: [`r@${E2E_DOMAIN}`],
      data: MESSAGE,
      timeoutSec: 5,
    });
    return late.code !== 0;
  }, { message: "the SMTP listener stops taking mail" });
  hold.release();
  const status = await withTimeout(server.exited, 60_000, "the server exits");
  assertEquals(status.code, 0, server.logs());
  assertMatch(server.logs(), /serve: stopped/);
  assertEquals(e2e.sink.messages.length, 1);

  const counts = await queueCounts(configPath);
  assertEquals(counts.delivered, 1, JSON.stringify(counts));
  assertEquals(counts.queued ?? 0, 0, JSON.stringify(counts));
  // The next start finds nothing to send again.
  const again = await e2e.start(config);
  await waitUntil(() => /node \S+ up/.test(again.logs()), { message: "the next start is up" });
  assert(!/re-queued \d+ units left in flight/.test(again.logs()), again.logs());
  assertEquals(e2e.sink.messages.length, 1);
});

Deno.test("SIGTERM: a delivery that outlasts shutdown_timeout is handed back, the next start sends it", async () => {
  const hold = heldReplies();
  await using e2e = await startE2eFixture({ prefix: "fastmta-stop-", sinkReply: hold.reply });
  const config = e2e.nodeConfig();
  config.shutdown_timeout = "3s";
  const configPath = await e2e.writeConfig(config);
  const server = await e2e.start(config);
  const sent = await sendWithSwaks({
    server: server.smtpAddress,
    from: "a@origin.test",
    to: [`r@${E2E_DOMAIN}`],
    data: MESSAGE,
  });
  assertEquals(sent.code, 0, sent.stdout);
  await waitUntil(() => hold.held === 1, { message: "the delivery is in flight" });

  server.process.kill("SIGTERM");
  // The sink never answers: the stop must end by itself (bounded well above 3 s, not timed).
  await withTimeout(server.exited, 60_000, "the server exits within its shutdown_timeout");
  assertMatch(server.logs(), /SIGTERM: shutting down \(within shutdown_timeout, 3000 ms\)/);
  assertEquals(e2e.sink.messages.length, 0);

  hold.release(); // the held connection's late 250 does not count: the next start resends
  const again = await e2e.start(config);
  const [message] = await e2e.sink.waitForMessages(1, 60_000);
  assertMatch(message.text(), /Subject: stop/);
  // Delivered by the second run (the first one's late 250 reached a closed connection).
  await waitUntil(async () => (await queueCounts(configPath)).delivered === 1, {
    timeoutMs: 60_000,
    message: "the next start delivers the handed-back unit",
  });
  await waitUntil(() => /node \S+ up/.test(again.logs()), { message: "the next start is up" });
});
