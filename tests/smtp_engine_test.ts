/**
 * The own SMTP engine (core/inbound/engine/) on a loopback port with handlers that only record:
 * a pipelined session cut anywhere gives the same replies and the same message, over-long lines
 * are answered and the session goes on, a dot-line smuggled with bare LFs stays inside the
 * message, and pipelined replies come out together.
 */
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "./helpers/assert.ts";
import { type DataSource, SmtpEngine } from "../core/inbound/engine/mod.ts";
import { makeSelfSignedCert } from "../core/inbound/self_signed.ts";

const PAIR = await makeSelfSignedCert("engine.test", { ips: ["127.0.0.1"] });

/** An engine on an ephemeral port; `messages` collects the bodies it received. */
async function engine(): Promise<
  & { port: number; messages: string[]; locals: string[]; close: () => Promise<void> }
  & AsyncDisposable
> {
  const messages: string[] = [];
  const locals: string[] = [];
  const server = new SmtpEngine({
    name: "engine.test",
    banner: "fastmta",
    secure: false,
    ...PAIR,
    size: 1_000_000,
    authMethods: ["PLAIN"],
    allowInsecureAuth: false,
    disabledCommands: ["AUTH"],
    maxClients: 100,
    maxCommandLength: 512,
    idleTimeoutMs: 30_000,
    greetingDelayMs: 0,
    maxErrors: 10,
    commandTimeoutMs: 30_000,
    dataTimeoutMs: 30_000,
    closeTimeoutMs: 100,
  }, {
    onConnect: (_s, cb) => cb(),
    onSecure: (_x, _s, cb) => cb(),
    onClose: () => {},
    onAuth: (_a, _s, cb) => cb(new Error("no")),
    onMailFrom: (_a, s, cb) => {
      locals.push(`${s.localAddress}:${s.localPort}`); // read late: the session reads it lazily
      cb();
    },
    onRcptTo: (_a, _s, cb) => cb(),
    onData: (source: DataSource, _s, cb) => {
      const parts: Uint8Array[] = [];
      source.on("data", (part) => parts.push(part.slice()));
      source.on("end", () => {
        messages.push(Buffer.concat(parts).toString("latin1"));
        cb(null, `2.0.0 Ok: queued as Q${messages.length}`);
      });
    },
  });
  await server.listen("127.0.0.1", 0, false);
  const port = (server.server.address() as { port: number }).port;
  const close = () => server.close();
  return { port, messages, locals, close, [Symbol.asyncDispose]: close };
}

/** Sends `wire` cut at `cuts`, each piece its own write; returns all the server wrote. */
async function session(port: number, wire: string, cuts: number[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = new TextEncoder().encode(wire);
  const reading = (async () => {
    let text = "";
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  })();
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end <= start) continue;
    await conn.write(bytes.subarray(start, end));
    start = end;
  }
  const text = await reading;
  conn.close();
  return text;
}

const codes = (text: string) =>
  text.split("\r\n").filter((l) => l !== "").filter((l) => l[3] === " ").map((l) => l.slice(0, 3));

const SESSION = "EHLO client.test\r\nMAIL FROM:<a@x.test> SIZE=100\r\n" +
  "RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+40y.test\r\nDATA\r\n" +
  "Subject: t\r\n\r\n..stuffed\r\n..\r\nend\r\n.\r\nQUIT\r\n";
const EXPECTED = ["220", "250", "250", "250", "354", "250", "221"];
const BODY = "Subject: t\r\n\r\n.stuffed\r\n.\r\nend\r\n";

Deno.test("engine: a pipelined session cut at any one point gives the same replies and message", async () => {
  await using server = await engine();
  for (let cut = 1; cut < SESSION.length; cut += 1) {
    const replies = await session(server.port, SESSION, [cut]);
    assertEquals(codes(replies), EXPECTED, `cut at ${cut}: ${replies}`);
  }
  assertEquals(server.messages.length, SESSION.length - 1);
  for (const message of server.messages) assertEquals(message, BODY);
});

Deno.test("engine: a session written one byte at a time", async () => {
  await using server = await engine();
  const cuts = [...Array(SESSION.length).keys()];
  assertEquals(codes(await session(server.port, SESSION, cuts)), EXPECTED);
  assertEquals(server.messages, [BODY]);
  assertEquals(server.locals, [`127.0.0.1:${server.port}`]);
});

Deno.test("engine: over-long lines get 500 5.5.2, whole or in pieces, and the session goes on", async () => {
  await using server = await engine();
  const long = "NOOP " + "x".repeat(600) + "\r\n";
  const wire = "EHLO c.test\r\n" + long + long + "NOOP\r\nQUIT\r\n";
  const replies = await session(server.port, wire, [20, 100, 400, 700, 900]);
  assertEquals(codes(replies), ["220", "250", "500", "500", "250", "221"]);
  assert(replies.includes("500 5.5.2 Error: line too long"), replies);
});

Deno.test("engine: LF.LF and CRLF.LF inside DATA are content, not a second transaction", async () => {
  await using server = await engine();
  const body = "Subject: s\r\n\r\nhi\n.\nMAIL FROM:<evil@x.test>\r\n.\nRCPT TO:<v@y.test>\r\n";
  const wire = "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" + body +
    ".\r\nQUIT\r\n";
  assertEquals(codes(await session(server.port, wire, [])), EXPECTED);
  assertEquals(server.messages, [body]);
});

Deno.test("engine: replies to pipelined commands leave in one write", async () => {
  await using server = await engine();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const buf = new Uint8Array(65536);
    const read = async () => new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!));
    assertEquals((await read()).slice(0, 3), "220");
    await conn.write(new TextEncoder().encode("EHLO c.test\r\n"));
    assert((await read()).includes("250 SIZE 1000000"));
    await conn.write(
      new TextEncoder().encode("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"),
    );
    // One read holds all three: they were written together, after the last command.
    assertEquals(codes(await read()), ["250", "250", "354"]);
  } finally {
    conn.close();
  }
});

Deno.test("engine: after QUIT the server closes, whether or not the client pipelined past it", async () => {
  await using server = await engine();
  // session() reads until the server's end of stream: the client never closes its side first.
  const alone = "EHLO c.test\r\nQUIT\r\n";
  assertEquals(codes(await session(server.port, alone, [])), ["220", "250", "221"]);
  const after = "EHLO c.test\r\nQUIT\r\nNOOP\r\nRSET\r\n";
  assertEquals(codes(await session(server.port, after, [])), ["220", "250", "221"]);
  const later = "EHLO c.test\r\nQUIT\r\nNOOP\r\n";
  assertEquals(codes(await session(server.port, later, [18])), ["220", "250", "221"]);
});
