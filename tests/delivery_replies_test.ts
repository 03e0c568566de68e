/**
 * The outbound client's reply reader (core/delivery/smtp_replies.ts): lines cut across reads,
 * multi-line replies, malformed codes, the end of the connection, and the command timeout kept
 * by one timer per connection.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./helpers/assert.ts";
import { ReplyReader } from "../core/delivery/smtp_replies.ts";
import { ConnectionError } from "../core/delivery/smtp_types.ts";

const never = () => {};

/** The ConnectionError `read` fails with; its message must match `pattern`. */
async function refused(read: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await assertRejects(read);
  assert(error instanceof ConnectionError, String(error));
  assertMatch(error.message, pattern);
}

Deno.test("replies are cut from reads however the lines fall, CR or not", async () => {
  const reader = new ReplyReader();
  reader.feed("250-mx.test hello\r\n250-PIPE");
  reader.feed("LINING\n250 SIZE 10\r\n354 go");
  const ehlo = await reader.next("mx", 1_000, never);
  assertEquals(ehlo, {
    code: 250,
    text: "mx.test hello PIPELINING SIZE 10",
    lines: ["mx.test hello", "PIPELINING", "SIZE 10"],
  });
  const waiting = reader.next("mx", 1_000, never);
  reader.feed(" ahead\r\n");
  assertEquals(await waiting, { code: 354, text: "go ahead", lines: ["go ahead"] });
  reader.feed("221\r\n250 \r\n");
  assertEquals(await reader.next("mx", 1_000, never), { code: 221, text: "", lines: [""] });
  assertEquals(await reader.next("mx", 1_000, never), { code: 250, text: "", lines: [""] });
  reader.fail(new ConnectionError("closed"));
});

Deno.test("a reply without a code from 200 to 599 closes the connection", async () => {
  for (const line of ["hello\r\n", "25 ok\r\n", "199 low\r\n", "600 high\r\n", "2x0 no\r\n"]) {
    const reader = new ReplyReader();
    let closed = 0;
    reader.feed(line);
    await refused(() => reader.next("mx", 1_000, () => closed++), /malformed reply/);
    assertEquals(closed, 1, line);
  }
});

Deno.test("the end of the connection fails a waiting read, after the replies already in", async () => {
  const reader = new ReplyReader();
  reader.feed("250 ok\r\n");
  reader.fail(new ConnectionError("connection closed by remote host"));
  assertEquals((await reader.next("mx", 1_000, never)).code, 250);
  await refused(() => reader.next("mx", 1_000, never), /closed by remote/);
  const other = new ReplyReader();
  const waiting = other.next("mx", 1_000, never);
  other.fail(new ConnectionError("gone"));
  await refused(() => waiting, /gone/);
});

Deno.test("a read waits at most its timeout, also after earlier reads armed the timer", async () => {
  const reader = new ReplyReader();
  // An earlier read with a long timeout leaves the timer armed for its deadline.
  const first = reader.next("mx", 60_000, never);
  reader.feed("250 ok\r\n");
  assertEquals((await first).code, 250);
  let closed = 0;
  await refused(
    () => reader.next("mx.test", 30, () => closed++),
    /timed out waiting for reply from mx\.test/,
  );
  assertEquals(closed, 1);
  reader.fail(new ConnectionError("closed")); // clears the timer
});

Deno.test("a line longer than 64 KiB without its end is refused", () => {
  const reader = new ReplyReader();
  assertEquals(reader.feed("250-" + "x".repeat(70_000)), false);
});
