/**
 * The bench's realistic sink (bench/sink.ts with a failure plan): which message is refused depends
 * on the message (its Message-Id), a 4xx is given once and the retry is accepted, a 5xx every time,
 * and DSNs (null sender) are never refused. No timing is asserted.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { freePort, uniqueLoopbackIp } from "./helpers/net.ts";
import { startSink } from "../bench/sink.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sends one message and returns the reply code to the final ".". */
async function send(host: string, port: number, from: string, id: string): Promise<number> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    const buf = new Uint8Array(4096);
    let pending = "";
    const reply = async (): Promise<string> => {
      for (;;) {
        const m = /^(\d{3}) .*\r\n/m.exec(pending);
        if (m) {
          pending = pending.slice(m.index + m[0].length);
          return m[1];
        }
        const n = await conn.read(buf);
        if (n === null) throw new Error("sink closed the connection");
        pending += dec.decode(buf.subarray(0, n));
      }
    };
    const cmd = async (line: string) => {
      await conn.write(enc.encode(line));
      return Number(await reply());
    };
    await reply();
    await cmd("EHLO test\r\n");
    await cmd(`MAIL FROM:<${from}>\r\n`);
    await cmd("RCPT TO:<b@example.com>\r\n");
    await cmd("DATA\r\n");
    const code = await cmd(`Message-Id: <${id}>\r\nSubject: t\r\n\r\nbody\r\n.\r\n`);
    await cmd("QUIT\r\n");
    return code;
  } finally {
    conn.close();
  }
}

Deno.test("realistic sink: 4xx once per message, 5xx every time, DSNs always accepted", async () => {
  const host = uniqueLoopbackIp();
  const port = freePort(host);
  const sink = startSink(host, port, () => {}, "sink.test", { tempPct: 30, permPct: 20 });
  try {
    const first = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const id = `m${i}@test`;
      first.set(id, await send(host, port, "a@test", id));
    }
    const codes = [...first.values()];
    assert(codes.includes(451) && codes.includes(550) && codes.includes(250), String(codes));
    for (const [id, code] of first) {
      const again = await send(host, port, "a@test", id);
      assertEquals(again, code === 550 ? 550 : 250, `retry of ${id} (first ${code})`);
      assertEquals(await send(host, port, "", id), 250, `DSN carrying ${id}`);
    }
    const temp = codes.filter((c) => c === 451).length;
    const perm = codes.filter((c) => c === 550).length;
    assertEquals(sink.counts.tempFails, temp);
    assertEquals(sink.counts.permFails, perm * 2);
    assertEquals(sink.counts.bounces, 60);
    assertEquals(sink.counts.msgs, (60 - temp - perm) + (60 - perm) + 60);
  } finally {
    sink.close();
  }
});
