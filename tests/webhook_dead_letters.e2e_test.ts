/**
 * Webhook dead letters (issue 16): while the receiver is down longer than
 * `events.webhooks.max_age`, the failing batch goes to the webhook's dead-letter list
 * (`fastmta webhook dead-letters`); `fastmta webhook replay` then posts its events again, signed,
 * and the letter is marked replayed.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startWebhookReceiver } from "./helpers/webhook_receiver.ts";

const WAIT_MS = 60_000;
const SECRET = "whsec-dead-letters-0123456789";

Deno.test("a batch older than max_age goes to the dead letters and replays", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-webhook-dead-" });
  await using receiver = startWebhookReceiver(SECRET);
  const config = e2e.nodeConfig();
  config.queue = { poll_interval: "200ms" };
  config.events = {
    flush_interval: "50ms",
    webhooks: { poll_interval: "100ms", retry_min: "100ms", retry_max: "300ms", max_age: "2s" },
  };
  const server = await e2e.start(config);
  const configPath = await e2e.writeConfig(config);
  const cli = async (...args: string[]) => {
    const result = await runCli([...args, "--config", configPath]);
    assertEquals(result.code, 0, result.stderr);
    return result.stdout;
  };
  try {
    await cli("webhook", "add", receiver.url, "--events", "*", "--id", "dl", "--secret", SECRET);
    await receiver.down();
    // Sent until one is routed to the webhook (the hub reads the webhooks every 100 ms).
    const ids: string[] = [];
    await waitUntil(async () => {
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@origin.test",
        to: [`ok@${E2E_DOMAIN}`],
        data: `Subject: dead letter\r\n\r\nHello.\r\n`,
      });
      ids.push(sent.queueId!);
      const status = JSON.parse(await cli("webhook", "deliveries", "dl", "--json")) as {
        status: { backlog: number; failures: number };
      };
      return status.status.backlog > 0 || status.status.failures > 0;
    }, { timeoutMs: WAIT_MS, intervalMs: 200, message: "events waiting for the webhook" });
    // The SMTP worker learns which events to build from the same webhook read, by a message that
    // may arrive just after the main thread's delivered events were routed: one more message
    // sent now has its reception built for sure (docs/events.md).
    ids.push(
      (await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@origin.test",
        to: [`ok@${E2E_DOMAIN}`],
        data: `Subject: dead letter\r\n\r\nHello.\r\n`,
      })).queueId!,
    );

    const letters = await waitUntil(async () => {
      const list = JSON.parse(await cli("webhook", "dead-letters", "dl", "--json")) as {
        id: number;
        events: number;
        replayed_at: number | null;
        reason: string;
      }[];
      return list.length > 0 ? list : null;
    }, { timeoutMs: WAIT_MS, intervalMs: 200, message: "a dead letter" });
    assert(letters[0].events > 0);
    assertEquals(letters[0].replayed_at, null);
    assertEquals(receiver.events().length, 0);

    receiver.up();
    // Wait until nothing is left in the outbox, so every event is in a dead letter.
    await waitUntil(async () => {
      const status = JSON.parse(await cli("webhook", "deliveries", "dl", "--json")) as {
        status: { backlog: number };
      };
      return status.status.backlog === 0;
    }, { timeoutMs: WAIT_MS, intervalMs: 200, message: "an empty outbox" });
    const before = JSON.parse(await cli("webhook", "dead-letters", "dl", "--json")) as {
      events: number;
    }[];
    // Everything posted since it is up, plus every dead event once replayed.
    const expected = before.reduce((n, l) => n + l.events, 0) + receiver.events().length;
    const replay = JSON.parse(await cli("webhook", "replay", "dl", "--json")) as {
      replayed_events: number;
    };
    assertEquals(replay.replayed_events, before.reduce((n, l) => n + l.events, 0));
    await waitUntil(() => receiver.events().length >= expected, {
      timeoutMs: WAIT_MS,
      message: "the replayed events",
    });
    assertEquals(receiver.badSignatures(), 0);
    // A reception (of the last message at least) is among the events.
    assert(receiver.events().some((e) => e.type === "received" && ids.includes(e.message_id!)));
    const after = JSON.parse(await cli("webhook", "dead-letters", "dl", "--json")) as {
      replayed_at: number | null;
    }[];
    assert(after.every((l) => l.replayed_at !== null), "every letter marked replayed");
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
