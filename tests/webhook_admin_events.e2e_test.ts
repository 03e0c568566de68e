/**
 * Events made by CLI commands (issue 16): a pause (`fastmta shaping pause`), an admin change
 * (`fastmta webhook add`) and a reception (`fastmta send`) are routed by the command itself into
 * the durable webhook outbox and posted by the running server's dispatcher.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startWebhookReceiver } from "./helpers/webhook_receiver.ts";

const SECRET = "whsec-admin-events-0123456789";

Deno.test("pause, admin-change and received events from the CLI reach the webhook", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-webhook-admin-" });
  await using receiver = startWebhookReceiver(SECRET);
  const config = e2e.nodeConfig();
  config.events = { webhooks: { poll_interval: "100ms" } };
  await e2e.start(config);
  const configPath = await e2e.writeConfig(config);
  const cli = async (...args: string[]) => {
    const result = await runCli([...args, "--config", configPath]);
    assertEquals(result.code, 0, result.stderr);
  };
  try {
    await cli("webhook", "add", receiver.url, "--events", "*", "--id", "all", "--secret", SECRET);
    await cli("shaping", "pause", "example.org");
    await cli(
      "webhook",
      "add",
      "https://other.example.org/",
      "--events",
      "bounced",
      "--id",
      "two",
      "--secret",
      SECRET,
    );
    const paused = await waitUntil(
      () => receiver.events().find((e) => e.type === "paused"),
      { timeoutMs: 60_000, message: "the paused event" },
    );
    // A pause event names the pause and its target; `domain` is the paused domain.
    assertEquals(paused.domain, "example.org");
    assert(paused.subject?.includes("domain example.org"), paused.subject);
    const change = await waitUntil(
      () => receiver.events().find((e) => e.type === "admin_change" && e.object?.id === "two"),
      { timeoutMs: 60_000, message: "the admin_change event" },
    );
    assertEquals(change.object, { kind: "webhook", id: "two", action: "create", version: 1 });
    const sent = await runCli(
      ["send", "--from", "cli@origin.test", "--to", `rcpt@${E2E_DOMAIN}`, "--config", configPath],
      { stdin: "Subject: from the CLI\r\n\r\nHello.\r\n" },
    );
    assertEquals(sent.code, 0, sent.stderr);
    const received = await waitUntil(
      () =>
        receiver.events().find((e) => e.type === "received" && e.message_id === sent.stdout.trim()),
      { timeoutMs: 60_000, message: "the received event of fastmta send" },
    );
    assertEquals(received.channel, "cli");
    assertEquals(receiver.badSignatures(), 0);
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
