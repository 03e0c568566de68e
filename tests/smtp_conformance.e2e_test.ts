/**
 * Issue 18, SMTP conformance found by a black-box probe: a command line over the limit gets
 * `500 5.5.2` and the session stays usable (RFC 5321 §4.5.3.1.4), whole or trickled in pieces;
 * two recipients that differ only in the local part's case are two recipients (RFC 5321 §2.4),
 * while a repeat that differs only in the domain's case is one.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startSmtpFixture, testMessage } from "./helpers/smtp_fixture.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";

async function greeted(port: number): Promise<RawSmtp> {
  const c = await RawSmtp.connect("127.0.0.1", port);
  assertEquals((await c.read()).code, 220);
  return c;
}

/** MAIL, RCPTs and DATA on an open session; returns the queue id. */
async function transaction(c: RawSmtp, recipients: string[]): Promise<string> {
  assertEquals((await c.command("MAIL FROM:<a@x.test>")).code, 250);
  for (const to of recipients) {
    const r = await c.command(`RCPT TO:<${to}>`);
    assertEquals(r.code, 250, `RCPT ${to}: ${r.text}`);
  }
  assertEquals((await c.command("DATA")).code, 354);
  c.write(testMessage("conformance") + ".\r\n");
  const done = await c.read();
  assertEquals(done.code, 250, done.text);
  return /queued as (\S+)/.exec(done.text)![1];
}

Deno.test("SMTP: over-long lines get 500 5.5.2 and case-distinct local parts stay apart", async (t) => {
  await using fx = await startSmtpFixture({
    smtp: { max_line_length: 1024, max_errors: 10 },
  });
  const port = fx.ports.smtp;

  await t.step("a whole over-long line: 500 5.5.2, then the session goes on", async () => {
    const c = await greeted(port);
    assertEquals((await c.command("EHLO client.test")).code, 250);
    const reply = await c.command(`NOOP ${"a".repeat(2000)}`);
    assertEquals(reply.code, 500, reply.text);
    assertMatch(reply.text, /^5\.5\.2 /);
    assert(!c.isClosed, "the session stays open");
    assertEquals((await c.command("NOOP")).code, 250);
    await transaction(c, ["someone@local.test"]);
    await c.close();
  });

  await t.step("an over-long line in pieces, with a command pipelined after it", async () => {
    const c = await greeted(port);
    assertEquals((await c.command("EHLO client.test")).code, 250);
    c.write(`MAIL FROM:<${"b".repeat(700)}`);
    c.write(`${"c".repeat(700)}`);
    c.write(`${"d".repeat(700)}@x.test>\r\nNOOP\r\n`);
    const tooLong = await c.read();
    assertEquals(tooLong.code, 500, tooLong.text);
    assertMatch(tooLong.text, /^5\.5\.2 /);
    // The tail of the long line was not taken for a command; the pipelined NOOP was.
    assertEquals((await c.read()).code, 250);
    await transaction(c, ["someone@local.test"]);
    await c.close();
  });

  await t.step("Bob@ and bob@ are two recipients; bob@LOCAL.TEST repeats bob@", async () => {
    const c = await greeted(port);
    assertEquals((await c.command("EHLO client.test")).code, 250);
    const id = await transaction(c, ["Bob@local.test", "bob@local.test", "bob@LOCAL.TEST"]);
    await c.close();
    const db = new DatabaseSync(`${fx.dir}/fastmta.db`, { readOnly: true });
    try {
      const rows = db.prepare("SELECT address FROM recipients WHERE message_id = ? ORDER BY id")
        .all(id) as { address: string }[];
      assertEquals(rows.map((r) => r.address), ["Bob@local.test", "bob@local.test"]);
    } finally {
      db.close();
    }
  });
});
