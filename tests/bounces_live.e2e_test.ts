/**
 * The bounce settings are live (issue 17): `fastmta config set` turns VERP on in a running
 * server, and within seconds the delivery workers send with VERP return paths and the SMTP
 * workers take mail for the new bounce domain (a DSN to the VERP address is applied), without a
 * restart.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { adminApi, runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const VERP_DOMAIN = "bounces.live.test";

Deno.test("turning VERP on with `fastmta config set` changes delivery and intake live", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-bounces-live-" });
  const config = e2e.nodeConfig();
  (config.smtp as Record<string, unknown>).relay_networks = ["127.0.0.1/32"];
  config.cluster = { config_poll: "500ms" };
  const server = await e2e.start(config);
  try {
    const rcpt = `live@${E2E_DOMAIN}`;
    const send = async () => {
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "news@shop.test",
        to: [rcpt],
        data: `From: news@shop.test\r\nTo: ${rcpt}\r\nSubject: live\r\n\r\nHi.\r\n`,
      });
      assert(sent.queueId, sent.stdout);
      const id = sent.queueId;
      await e2e.sink.waitFor(
        (s) => s.messages.some((m) => m.text().includes(`id ${id}`)),
        30_000,
        `message ${id} delivered`,
      );
      return { id, message: e2e.sink.messages.find((m) => m.text().includes(`id ${id}`))! };
    };
    assertEquals((await send()).message.mailFrom, "news@shop.test");
    // Before the change the VERP domain is a foreign domain: refused from outside.
    const before = await sendWithSwaks({
      server: server.smtpAddress,
      localAddress: "127.0.0.98",
      from: "",
      to: [`b+x@${VERP_DOMAIN}`],
      data: "Subject: x\r\n\r\nx\r\n",
    });
    assertMatch(before.stdout, /554 5\.7\.1 .*Relay access denied/);

    for (
      const [key, value] of [["bounce.verp.domain", VERP_DOMAIN], ["bounce.verp.enabled", "true"]]
    ) {
      const cli = await runCli(["config", "set", key, value, "--config", server.configPath]);
      assertEquals(cli.code, 0, cli.stderr);
    }
    const verp = await waitUntil(async () => {
      const { id, message } = await send();
      return message.mailFrom.endsWith(`@${VERP_DOMAIN}`) ? { id, message } : null;
    }, { timeoutMs: 30_000, message: "a message sent with a VERP return path" });
    assertMatch(verp.message.mailFrom, new RegExp(`^b\\+${verp.id}-[a-z2-7]{10}@`));

    const dsn = [
      "From: MAILER-DAEMON@dest.test",
      "Subject: failure notice",
      "MIME-Version: 1.0",
      'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
      "",
      "--B",
      "Content-Type: message/delivery-status",
      "",
      "Reporting-MTA: dns; mx1.dest.test",
      "",
      `Final-Recipient: rfc822; ${rcpt}`,
      "Action: failed",
      "Status: 5.1.1",
      "Diagnostic-Code: smtp; 550 5.1.1 user unknown",
      "--B--",
      "",
    ].join("\r\n");
    const report = await sendWithSwaks({
      server: server.smtpAddress,
      localAddress: "127.0.0.98",
      from: "",
      to: [verp.message.mailFrom],
      data: dsn,
    });
    assertEquals(report.code, 0, report.stdout);
    await waitUntil(async () => {
      const { body } = await adminApi<{ recipients: { state: string }[] }>(
        server,
        `/api/v1/messages/${verp.id}`,
      );
      return body.recipients[0]?.state === "bounced";
    }, { timeoutMs: 30_000, message: "recipient bounced" });
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
