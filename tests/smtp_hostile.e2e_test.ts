/**
 * Hostile and broken SMTP clients against the real server (two workers, tight limits): error
 * limit, overlong lines, per-IP connection limit across workers, AUTH brute force, slow loris,
 * oversized header sections, too many recipients, early talkers. Afterwards the server must
 * still run and the message accepted in between must be stored.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { smtplibSession, startSmtpFixture, testMessage } from "./helpers/smtp_fixture.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";
import { waitUntil } from "./helpers/wait.ts";

async function greeted(port: number, localAddress: string): Promise<RawSmtp> {
  const c = await RawSmtp.connect("127.0.0.1", port, { localAddress });
  const greeting = await c.read();
  assertEquals(greeting.code, 220, greeting.text);
  return c;
}

Deno.test("SMTP inbound survives hostile clients", async (t) => {
  await using fx = await startSmtpFixture({
    users: [{ name: "alice", password: "right-password" }],
    smtp: {
      max_errors: 3,
      max_line_length: 1024,
      max_connections_per_ip: 3,
      max_header_size: 2048,
      max_recipients: 3,
      command_timeout: "3s",
      // Only 127.0.0.1 is trusted: the hostile clients below come from other addresses.
      relay_networks: ["127.0.0.1/32"],
      auth: { max_failures: 3, failure_window: "10m" },
    },
  });
  const port = fx.ports.smtp;
  let acceptedMeanwhile = "";

  await t.step("too many errors: 421 and close", async () => {
    const c = await greeted(port, "127.0.0.21");
    assertEquals((await c.command("EHLO client.test")).code, 250);
    assertEquals((await c.command("FOO")).code, 500);
    assertEquals((await c.command("MAIL FROM:<broken")).code, 501);
    c.write("BAR\r\n");
    assertEquals((await c.read()).code, 500);
    const last = await c.read();
    assertEquals(last.code, 421);
    assertMatch(last.text, /^4\.7\.0 Error: too many errors/);
    await c.waitClosed();
  });

  await t.step("a message accepted on another connection meanwhile", async () => {
    const r = await smtplibSession({
      port,
      from: "a@x.test",
      rcpts: [{ to: "b@remote.test" }],
      data: testMessage("survivor"),
    });
    assertEquals(r.data?.code, 250, JSON.stringify(r));
    acceptedMeanwhile = /queued as (\S+)/.exec(r.data!.text)![1];
  });

  await t.step("line too long: 500 5.5.2, the session stays usable", async () => {
    const c = await greeted(port, "127.0.0.22");
    c.write(`EHLO ${"a".repeat(2000)}\r\n`);
    const reply = await c.read();
    assertEquals(reply.code, 500);
    assertMatch(reply.text, /too long/i);
    assertEquals((await c.command("EHLO client.test")).code, 250);
    await c.close();
  });

  await t.step("per-IP connection limit holds across workers and frees on close", async () => {
    const ip = "127.0.0.23";
    // Several connections so that both workers (SO_REUSEPORT) hold some of them.
    const open = [await greeted(port, ip), await greeted(port, ip), await greeted(port, ip)];
    const fourth = await RawSmtp.connect("127.0.0.1", port, { localAddress: ip });
    const refused = await fourth.read();
    assertEquals(refused.code, 421);
    assertMatch(refused.text, /^4\.7\.0 Error: too many connections from 127\.0\.0\.23/);
    await fourth.waitClosed();
    // Another address is not affected.
    const other = await greeted(port, "127.0.0.24");
    await other.close();
    await open.pop()!.close();
    // The server releases the slot when it sees the close: poll until a new one is greeted.
    const again = await waitUntil(async () => {
      const c = await RawSmtp.connect("127.0.0.1", port, { localAddress: ip });
      const reply = await c.read().catch(() => null);
      if (reply?.code === 220) return c;
      await c.close();
      return null;
    }, { message: "a connection slot freed after close", timeoutMs: 10_000 });
    await again.close();
    for (const c of open) await c.close();
  });

  await t.step("clients in relay networks are exempt from the per-IP limit", async () => {
    // As Postfix exempts $mynetworks: our own applications may open many sessions.
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await greeted(port, "127.0.0.1"));
    for (const c of open) await c.close();
  });

  await t.step("AUTH brute force is throttled per IP and logged", async () => {
    const ip = "127.0.0.25";
    for (let i = 0; i < 3; i++) {
      const r = await smtplibSession({
        port,
        localAddress: ip,
        starttls: true,
        login: { user: "alice", password: `guess-${i}`, mechanism: "PLAIN" },
      });
      assertEquals(r.login?.code, 535, JSON.stringify(r));
    }
    const blocked = await smtplibSession({
      port,
      localAddress: ip,
      starttls: true,
      login: { user: "alice", password: "right-password", mechanism: "PLAIN" },
    });
    assertEquals(blocked.login?.code, 421, JSON.stringify(blocked));
    assertMatch(blocked.login!.text, /too many failed authentication attempts/);
    const elsewhere = await smtplibSession({
      port,
      localAddress: "127.0.0.26",
      starttls: true,
      login: { user: "alice", password: "right-password", mechanism: "PLAIN" },
    });
    assertEquals(elsewhere.login?.code, 235, JSON.stringify(elsewhere));
    const logs = fx.server.logs();
    assertMatch(logs, /AUTH PLAIN failed for "alice" from 127\.0\.0\.25 \(3 of 3 allowed\)/);
    assertMatch(logs, /AUTH refused for 127\.0\.0\.25: 3 failed attempts, throttled/);
  });

  await t.step(
    "slow loris: a command trickled byte by byte hits the command deadline",
    async () => {
      const c = await greeted(port, "127.0.0.27");
      const started = Date.now();
      // One byte every 100 ms resets the idle timeout every time; only the 3 s deadline can
      // end it, long before the whole line (20 s) is through.
      const line = `EHLO ${"slow.".repeat(40)}test\r\n`;
      for (let i = 0; i < line.length && !c.isClosed; i++) {
        c.write(line[i]);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const reply = await c.read();
      assertEquals(reply.code, 421, reply.text);
      assertMatch(reply.text, /^4\.4\.2 Error: timeout exceeded/);
      await c.waitClosed();
      assert(Date.now() - started < line.length * 100, "closed before the line was complete");
    },
  );

  await t.step("header section too big: 552", async () => {
    const headers = Array.from({ length: 40 }, (_, i) => `X-Filler-${i}: ${"h".repeat(60)}\r\n`)
      .join("");
    const r = await smtplibSession({
      port,
      from: "a@x.test",
      rcpts: [{ to: "b@remote.test" }],
      data: testMessage("fat headers", headers),
    });
    assertEquals(r.data?.code, 552, JSON.stringify(r));
    assertMatch(r.data!.text, /^5\.3\.4 Error: message header section exceeds 2048 bytes/);
  });

  await t.step("too many recipients: 452 for the ones over the limit", async () => {
    const r = await smtplibSession({
      port,
      from: "a@x.test",
      rcpts: ["a", "b", "c", "d"].map((n) => ({ to: `${n}@remote.test` })),
      data: testMessage("many"),
    });
    assertEquals(r.rcpt?.map((x) => x.code), [250, 250, 250, 452]);
    assertMatch(r.rcpt![3].text, /^4\.5\.3 Error: too many recipients \(limit 3\)/);
    assertEquals(r.data?.code, 250);
  });

  await t.step("early talker with greeting_delay 0 is served, not refused", async () => {
    const c = await RawSmtp.connect("127.0.0.1", port, { localAddress: "127.0.0.28" });
    c.write("EHLO early.test\r\n"); // before reading the greeting
    assertEquals((await c.read()).code, 220);
    assertEquals((await c.read()).code, 250);
    await c.close();
  });

  await t.step("still running, and the message accepted meanwhile is stored", async () => {
    const stored = fx.message(acceptedMeanwhile);
    assert(stored, "message accepted during the hostile steps is missing");
    assertMatch(stored.body, /Subject: survivor/);
    const r = await smtplibSession({
      port,
      from: "a@x.test",
      rcpts: [{ to: "b@remote.test" }],
      data: testMessage("after"),
    });
    assertEquals(r.data?.code, 250, JSON.stringify(r));
    assert(!/crashed|restarted/.test(fx.server.logs()), fx.server.logs());
  });
});
