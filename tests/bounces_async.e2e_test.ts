/**
 * Asynchronous bounces end to end (issue 17), on one real server with VERP, a feedback domain,
 * one-click unsubscribe and delayed DSNs configured:
 * - a message is delivered to the sink with a VERP return path; an outside host then sends an
 *   RFC 3464 DSN to that address over SMTP; the recipient becomes "bounced", is suppressed, and
 *   the next message to it is not sent;
 * - a DSN to a VERP address with a forged token is refused at RCPT and changes nothing;
 * - an ARF complaint to the feedback domain suppresses the address for that sending domain only;
 * - a one-click unsubscribe POST (RFC 8058) suppresses the address for that sender;
 * - mail for a non-bounce domain from an outside address is still refused (no open relay).
 * And a second test: a "delayed" DSN arrives once after `bounce.delay_notice_after`.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, type E2eFixture, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { adminApi, sendWithSwaks, type ServerProcess } from "./helpers/server_process.ts";
import type { SinkMessage } from "./helpers/smtp_sink.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";
import { waitUntil } from "./helpers/wait.ts";

const OUTSIDE = "127.0.0.99";
const VERP_DOMAIN = "bounces.mta.test";
const FEEDBACK = "feedback.mta.test";

interface Status {
  recipients: { address: string; state: string; last_reply: string | null }[];
}

function message(subject: string, to: string, from = "news@shop.test"): string {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nHello.\r\n`;
}

function dsnFor(recipient: string, original: string): string {
  return [
    `From: MAILER-DAEMON@${E2E_DOMAIN}`,
    "To: bounce@example",
    "Subject: Undelivered Mail Returned to Sender",
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "",
    "--B",
    "Content-Type: text/plain",
    "",
    "Your message could not be delivered.",
    "--B",
    "Content-Type: message/delivery-status",
    "",
    `Reporting-MTA: dns; mx1.${E2E_DOMAIN}`,
    "",
    `Final-Recipient: rfc822; ${recipient}`,
    "Action: failed",
    "Status: 5.1.1",
    "Diagnostic-Code: smtp; 550 5.1.1 <" + recipient + ">: Recipient address rejected: " +
    "User unknown in local recipient table",
    "--B",
    "Content-Type: text/rfc822-headers",
    "",
    original.split("\r\n\r\n")[0],
    "--B--",
    "",
  ].join("\r\n");
}

function arfFor(returnPath: string, recipient: string): string {
  return [
    "From: fbl@isp.test",
    `To: fbl@${FEEDBACK}`,
    "Subject: complaint",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=feedback-report; boundary="F"',
    "",
    "--F",
    "Content-Type: text/plain",
    "",
    "An abuse report.",
    "--F",
    "Content-Type: message/feedback-report",
    "",
    "Feedback-Type: abuse",
    "User-Agent: TestFBL/1.0",
    "Version: 1",
    `Original-Rcpt-To: ${recipient}`,
    "--F",
    "Content-Type: message/rfc822",
    "",
    `Return-Path: <${returnPath}>`,
    "From: news@shop.test",
    `To: ${recipient}`,
    "Subject: offer",
    "",
    "Hello.",
    "--F--",
    "",
  ].join("\r\n");
}

async function start(e2e: E2eFixture, bounce: Record<string, unknown>): Promise<ServerProcess> {
  const config = e2e.nodeConfig();
  // 127.0.0.1 (the test's applications) may relay; OUTSIDE is the rest of the world.
  (config.smtp as Record<string, unknown>).relay_networks = ["127.0.0.1/32"];
  const admin = config.admin!.listen as string;
  config.bounce = { ...bounce, unsubscribe: { enabled: true, base_url: `http://${admin}` } };
  return await e2e.start(config);
}

async function status(server: ServerProcess, id: string): Promise<Status> {
  const { status: code, body } = await adminApi<Status>(server, `/api/v1/messages/${id}`);
  assertEquals(code, 200, JSON.stringify(body));
  return body;
}

async function waitForRecipient(server: ServerProcess, id: string, state: string) {
  return await waitUntil(async () => {
    const s = await status(server, id);
    return s.recipients.every((r) => r.state === state) ? s : null;
  }, { timeoutMs: 30_000, message: `message ${id} ${state}` });
}

/** Sends from a trusted client; resolves once the sink has it (and the id). */
async function sendAndDeliver(
  server: ServerProcess,
  e2e: E2eFixture,
  to: string,
  from = "news@shop.test",
): Promise<{ id: string; delivered: SinkMessage }> {
  const sent = await sendWithSwaks({
    server: server.smtpAddress,
    from,
    to: [to],
    data: message(`to ${to}`, to, from),
  });
  assert(sent.queueId, sent.stdout);
  await waitForRecipient(server, sent.queueId, "delivered");
  const delivered = e2e.sink.messages.findLast((m) => m.rcptTo.includes(to))!;
  return { id: sent.queueId, delivered };
}

Deno.test("async bounces, complaints and unsubscribes over real SMTP and HTTP", async (t) => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-bounces-" });
  const server = await start(e2e, {
    verp: { enabled: true, domain: VERP_DOMAIN },
    domains: [FEEDBACK],
  });
  try {
    await t.step("an async DSN to the VERP address bounces and suppresses", async () => {
      const bob = `bob@${E2E_DOMAIN}`;
      const { id, delivered } = await sendAndDeliver(server, e2e, bob);
      const verp = delivered.mailFrom;
      assertMatch(verp, new RegExp(`^b\\+${id}-[a-z2-7]{10}@${VERP_DOMAIN}$`));
      assert(verp.split("@")[0].length <= 64);
      const report = await sendWithSwaks({
        server: server.smtpAddress,
        localAddress: OUTSIDE,
        from: "",
        to: [verp],
        data: dsnFor(bob, delivered.text()),
      });
      assertEquals(report.code, 0, report.stdout);
      assertMatch(report.stdout, /250 2\.0\.0 Ok: report stored as/);
      const bounced = await waitForRecipient(server, id, "bounced");
      assertMatch(bounced.recipients[0].last_reply ?? "", /asynchronous bounce: 550 5\.1\.1/);
      // The report is kept and listed with the message.
      const { body: listed } = await adminApi<{ reports: Record<string, unknown>[] }>(
        server,
        `/api/v1/messages/${id}/reports`,
      );
      assertEquals(listed.reports.map((r) => [r.kind, r.recipient, r.status, r.category]), [
        ["hard_bounce", bob, "5.1.1", "bad_mailbox"],
      ]);
      assertEquals(listed.reports[0].client_ip, OUTSIDE);
      // The next message to bob is not sent: suppressed before any connection.
      const before = e2e.sink.messages.length;
      const next = await sendWithSwaks({
        server: server.smtpAddress,
        from: "other@elsewhere.test",
        to: [bob],
        data: message("again", bob, "other@elsewhere.test"),
      });
      assert(next.queueId);
      const suppressed = await waitForRecipient(server, next.queueId, "suppressed");
      assertMatch(suppressed.recipients[0].last_reply ?? "", /suppressed/);
      assertEquals(
        e2e.sink.messages.slice(before).filter((m) => m.rcptTo.includes(bob)).length,
        0,
      );
    });

    await t.step("a DSN with a forged token is refused and changes nothing", async () => {
      const carol = `carol@${E2E_DOMAIN}`;
      const { id, delivered } = await sendAndDeliver(server, e2e, carol);
      const forged = delivered.mailFrom.replace(
        /-([a-z2-7])([a-z2-7]{9})@/,
        (_m, first: string, rest: string) => `-${first === "a" ? "b" : "a"}${rest}@`,
      );
      assert(forged !== delivered.mailFrom);
      const report = await sendWithSwaks({
        server: server.smtpAddress,
        localAddress: OUTSIDE,
        from: "",
        to: [forged],
        data: dsnFor(carol, delivered.text()),
      });
      assert(report.code !== 0, report.stdout);
      assertMatch(report.stdout, /550 5\.1\.1 .*invalid bounce token/);
      assertEquals((await status(server, id)).recipients[0].state, "delivered");
    });

    await t.step("an ARF complaint suppresses the address for that sending domain", async () => {
      const carol = `carol@${E2E_DOMAIN}`;
      const { delivered } = await sendAndDeliver(server, e2e, carol);
      const report = await sendWithSwaks({
        server: server.smtpAddress,
        localAddress: OUTSIDE,
        from: "fbl@isp.test",
        to: [`fbl@${FEEDBACK}`],
        data: arfFor(delivered.mailFrom, carol),
      });
      assertEquals(report.code, 0, report.stdout);
      // From shop.test the address is now suppressed; another sender still reaches it.
      await waitUntil(async () => {
        const sent = await sendWithSwaks({
          server: server.smtpAddress,
          from: "news@shop.test",
          to: [carol],
          data: message("after complaint", carol),
        });
        const s = await waitUntil(async () => {
          const r = (await status(server, sent.queueId!)).recipients[0];
          return r.state === "queued" || r.state === "deferred" ? null : r;
        });
        return s.state === "suppressed";
      }, { timeoutMs: 30_000, message: "complaint applied" });
      await sendAndDeliver(server, e2e, carol, "news@other-shop.test");
    });

    await t.step(
      "a one-click unsubscribe POST suppresses the address for that sender",
      async () => {
        const dave = `dave@${E2E_DOMAIN}`;
        const { delivered } = await sendAndDeliver(server, e2e, dave);
        const text = delivered.text();
        assertMatch(text, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
        const url = /^List-Unsubscribe: <([^>]+)>\r$/m.exec(text)?.[1];
        assert(url, text);
        const forged = await fetch(url.replace(/.(?=$)/, (c) => (c === "a" ? "b" : "a")), {
          method: "POST",
          body: "List-Unsubscribe=One-Click",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        });
        assertEquals(forged.status, 404);
        await forged.body?.cancel();
        const response = await fetch(url, {
          method: "POST",
          body: "List-Unsubscribe=One-Click",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        });
        assertEquals(response.status, 200);
        assertEquals(await response.json(), { unsubscribed: true, sender_domain: "shop.test" });
        const next = await sendWithSwaks({
          server: server.smtpAddress,
          from: "news@shop.test",
          to: [dave],
          data: message("after unsubscribe", dave),
        });
        await waitForRecipient(server, next.queueId!, "suppressed");
      },
    );

    await t.step("mail for a non-bounce domain from outside is still refused", async () => {
      const relay = await sendWithSwaks({
        server: server.smtpAddress,
        localAddress: OUTSIDE,
        from: "someone@outside.test",
        to: [`victim@${E2E_DOMAIN}`],
        data: message("relay?", `victim@${E2E_DOMAIN}`),
      });
      assert(relay.code !== 0);
      assertMatch(relay.stdout, /554 5\.7\.1 .*Relay access denied/);
      // Mixing a bounce domain and a foreign domain in one transaction does not open a door.
      const mixed = await sendWithSwaks({
        server: server.smtpAddress,
        localAddress: OUTSIDE,
        from: "someone@outside.test",
        to: [`fbl@${FEEDBACK}`, `victim@${E2E_DOMAIN}`],
        data: message("mixed", `victim@${E2E_DOMAIN}`),
      });
      assertMatch(mixed.stdout, /452 4\.5\.3|554 5\.7\.1/);
      assertEquals(e2e.sink.messages.filter((m) => m.rcptTo.includes(`victim@${E2E_DOMAIN}`)), []);
    });
  } catch (error) {
    e2e.dump();
    throw error;
  }
});

Deno.test("a delayed DSN arrives once, after bounce.delay_notice_after, when NOTIFY=DELAY asked", async () => {
  const attempts = new Map<string, number>();
  await using e2e = await startE2eFixture({
    prefix: "fastmta-delay-",
    sinkReply: ({ command, arg }) => {
      const slow = /<((erin|frank)@[^>]+)>/.exec(arg)?.[1];
      if (command === "RCPT" && slow) {
        attempts.set(slow, (attempts.get(slow) ?? 0) + 1);
        return "451 4.2.0 Mailbox temporarily unavailable";
      }
      return undefined;
    },
  });
  // The default policy: only senders who asked with NOTIFY=DELAY get one.
  const server = await start(e2e, { delay_notice_after: "2s" });
  try {
    const sender = `app@${E2E_DOMAIN}`;
    const erin = `erin@${E2E_DOMAIN}`;
    const frank = `frank@${E2E_DOMAIN}`;
    const smtp = await RawSmtp.connect(server.smtpHost, server.smtpPort);
    try {
      await smtp.read();
      await smtp.command("EHLO app.test");
      assertEquals((await smtp.command(`MAIL FROM:<${sender}>`)).code, 250);
      assertEquals((await smtp.command(`RCPT TO:<${erin}> NOTIFY=DELAY,FAILURE`)).code, 250);
      assertEquals((await smtp.command(`RCPT TO:<${frank}>`)).code, 250);
      assertEquals((await smtp.command("DATA")).code, 354);
      const done = await smtp.command(`${message("slow", erin, sender)}.`);
      assertEquals(done.code, 250, done.text);
      await smtp.command("QUIT");
    } finally {
      await smtp.close();
    }
    const notices = () =>
      e2e.sink.messages.filter((m) => m.mailFrom === "" && m.rcptTo.includes(sender));
    await e2e.sink.waitFor(() => notices().length >= 1, 30_000, "a delayed DSN");
    const notice = notices()[0].text();
    assertMatch(notice, /^Action: delayed\r$/m);
    assertMatch(notice, /^Status: 4\.2\.0\r$/m);
    assertMatch(notice, /^Will-Retry-Until: /m);
    assertMatch(notice, new RegExp(`^Final-Recipient: rfc822; ?${erin}\r$`, "m"));
    assertEquals(notice.includes(`Final-Recipient: rfc822;${frank}`), false, "frank did not ask");
    // Two more attempts (retry 1 s, 2 s) span several sweeps (every second): no repeat.
    const seen = attempts.get(erin) ?? 0;
    await e2e.sink.waitFor(() => (attempts.get(erin) ?? 0) >= seen + 2, 30_000, "more attempts");
    assertEquals(notices().length, 1);
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
