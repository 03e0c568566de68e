/**
 * DATA arriving in many pieces: large dot-stuffed messages, written in odd-sized pieces so the
 * end-of-line / dot / terminator sequences fall on every kind of read boundary, are stored byte
 * for byte, and the next message on the same connection is unharmed. Guards the collector that
 * frees smtp-server's joined chunk buffers once a message is built (core/inbound/message.ts).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { parseQueueId } from "./helpers/smtp_client.ts";
import { startSmtpFixture } from "./helpers/smtp_fixture.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";

/** A message of about `size` bytes with lines that start with dots. */
function dottedMessage(tag: string, size: number): string {
  const lines = [`From: a@x.test`, `To: b@remote.test`, `Subject: ${tag}`, ``];
  let length = 0;
  for (let i = 0; length < size; i++) {
    const line = i % 7 === 0
      ? "."
      : i % 5 === 0
      ? `..${tag} line ${i}`
      : i % 3 === 0
      ? `.${"x".repeat(i % 997)}`
      : `${tag} ${i} ${"y".repeat((i * 31) % 400)}`;
    lines.push(line);
    length += line.length + 2;
  }
  return lines.join("\r\n") + "\r\n";
}

/** RFC 5321 §4.5.2 transparency: a line starting with "." gets one more. */
function dotStuff(message: string): string {
  return message.replace(/^\./gm, "..");
}

Deno.test("SMTP DATA in odd-sized pieces: large dot-stuffed messages stored byte for byte", async () => {
  await using fx = await startSmtpFixture({ workers: 1, smtp: { max_message_size: 4_000_000 } });
  const c = await RawSmtp.connect("127.0.0.1", fx.ports.smtp);
  try {
    assertEquals((await c.read()).code, 220);
    assertEquals((await c.command("EHLO client.test")).code, 250);
    const pieceSizes = [1, 2, 3, 4, 5, 7, 4093, 4096, 4099, 8191, 65_536, 13];
    for (const [n, size] of [[1, 300_000], [2, 120_000], [3, 2_000]] as const) {
      const message = dottedMessage(`m${n}`, size);
      assertEquals((await c.command("MAIL FROM:<a@x.test>")).code, 250);
      assertEquals((await c.command("RCPT TO:<b@remote.test>")).code, 250);
      assertEquals((await c.command("DATA")).code, 354);
      const wire = new TextEncoder().encode(dotStuff(message) + ".\r\n");
      for (let offset = 0, i = 0; offset < wire.length; i++) {
        const end = Math.min(wire.length, offset + pieceSizes[(i + n) % pieceSizes.length]);
        c.write(wire.subarray(offset, end));
        offset = end;
        // Yield so the pieces reach the server as separate reads as often as loopback allows.
        if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const reply = await c.read(30_000);
      assertEquals(reply.code, 250, reply.text);
      assertMatch(reply.text, /^2\.0\.0 Ok: queued as /);
      const stored = fx.message(parseQueueId(reply.text)!)!.body;
      assert(stored.startsWith("Received: "), stored.slice(0, 80));
      const start = stored.indexOf("From: a@x.test\r\n");
      assertEquals(stored.slice(start).length, message.length, `message ${n}: length`);
      assert(stored.slice(start) === message, `message ${n}: bytes differ`);
    }
    assertEquals((await c.command("QUIT")).code, 221);
  } finally {
    await c.close();
  }
});
