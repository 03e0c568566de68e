/**
 * The logger's formats, levels and redaction: JSON lines and text lines carry the same fields,
 * a queue id named in the text becomes `queue_id`, and secrets never survive formatting.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { addSecret, formatLine, levelOf, queueIdIn, redact } from "../core/log.ts";

const TIME = new Date("2026-12-02T05:00:00.000Z");

Deno.test("log: a JSON line has time, level, component, msg and the fields", () => {
  const line = formatLine(
    "warn",
    "delivery-0",
    "deferred <a@b.test>: 451 later",
    {
      queue_id: "238VX480CHBY12B8",
      code: 451,
      unset: undefined,
    },
    true,
    TIME,
  );
  assertEquals(JSON.parse(line), {
    time: "2026-12-02T05:00:00.000Z",
    level: "warn",
    component: "delivery-0",
    msg: "deferred <a@b.test>: 451 later",
    queue_id: "238VX480CHBY12B8",
    code: 451,
  });
});

Deno.test("log: a text line reads as before, with the level and key=value fields", () => {
  const line = formatLine("info", "serve", "stopped", { reply: "250 ok" }, false, TIME);
  assertEquals(line, '2026-12-02T05:00:00.000Z INFO  serve: stopped reply="250 ok"');
});

Deno.test("log: the queue id a line names becomes its queue_id", () => {
  assertEquals(queueIdIn("delivery: unit 238VX480CHBY12B8.0: boom"), "238VX480CHBY12B8");
  assertEquals(queueIdIn("1234567890123456 is a number"), undefined);
  const line = JSON.parse(
    formatLine("info", "smtp", "cannot accept message 238VX480CHBY12B8: x", {}, true, TIME),
  );
  assertEquals(line.queue_id, "238VX480CHBY12B8");
});

Deno.test("log: plain lines that report trouble are warnings", () => {
  assertEquals(levelOf("cannot settle 3: connection reset"), "warn");
  assertEquals(levelOf("broker connection lost: closed"), "warn");
  assertEquals(levelOf("node a up"), "info");
});

Deno.test("log: redaction of registered secrets, URLs, pairs, bearer tokens, keys, fields", () => {
  addSecret("s3cr3t-value-xyz");
  const cases = [
    "error from s3cr3t-value-xyz here",
    "connect postgres://fastmta:hunter22@db:5432/mail failed",
    "host=db password=hunter22 dbname=mail",
    '{"password": "hunter22"}',
    "Authorization: Bearer abc.def-ghi",
    "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----",
  ];
  for (const text of cases) {
    const out = redact(text);
    for (const secret of ["s3cr3t-value-xyz", "hunter22", "abc.def-ghi", "MIIEv"]) {
      assert(!out.includes(secret), `${secret} survived in: ${out}`);
    }
  }
  assertMatch(redact("postgres://fastmta:hunter22@db/mail"), /postgres:\/\/fastmta:\*\*\*@db/);
  const line = JSON.parse(formatLine("info", "x", "y", { api_key: "k-123456" }, true, TIME));
  assertEquals(line.api_key, "***");
});
