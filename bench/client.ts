/**
 * Instrumented SMTP load client on Deno's native TCP API, modelled on `smtp-source`: one message per
 * connection, C concurrent sessions, R recipients per message (1b@dom, 2b@dom, ... like
 * `smtp-source -r`), no pipelining. For every message it records the accept latency: from the
 * start of connect() to the 250 reply after the final ".".
 *
 * Run as its own process (so its CPU is not mixed with the harness's samplers):
 *   deno run --allow-net bench/client.ts --target 127.0.0.4:2525 -n 1000 -c 20 -s 5120 -r 1
 * It prints one JSON line ({@link ClientResult}) on stdout.
 */
import { parseArgs } from "node:util";

/** Load parameters. */
export interface ClientOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Messages to send. */
  messages: number;
  /** Concurrent sessions. */
  sessions: number;
  /** Body size in bytes (headers not included, like `smtp-source -l`). */
  size: number;
  /** Recipients per message. */
  rcpts: number;
  /** Envelope sender. */
  from: string;
  /** Recipient address; the i-th recipient gets "i" prepended to the local part. */
  to: string;
  /** EHLO name. */
  helo: string;
  /** Per-reply timeout, ms. */
  timeoutMs: number;
}

/** Outcome of a client run. */
export interface ClientResult {
  /** Messages the server accepted (250 after DATA). */
  ok: number;
  /** Messages that failed (unexpected reply, timeout or connection error). */
  failed: number;
  /** First failure, for diagnosis. */
  firstError?: string;
  /** Wall clock at the start of the load (ms since the epoch). */
  startedAt: number;
  /** Wall time of the whole run, ms. */
  elapsedMs: number;
  /** Accepted messages per second. */
  acceptedPerSec: number;
  /** Accept latency percentiles, ms (over accepted messages). */
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
}

/** Builds the DATA payload (headers + `size` body bytes + final dot line). */
export function buildMessage(o: ClientOptions): Uint8Array {
  const headers = `From: <${o.from}>\r\nTo: <${o.to}>\r\nSubject: fastmta bench\r\n` +
    `Date: ${new Date().toUTCString()}\r\nMessage-ID: <bench.${Date.now()}@${o.helo}>\r\n\r\n`;
  // body: 78-character lines + CRLF, the last line sized so the body is exactly `size` bytes
  const lines: string[] = [];
  let left = Math.max(2, o.size);
  const full = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd12";
  while (left > 81) {
    lines.push(full, "\r\n");
    left -= 80;
  }
  lines.push("x".repeat(left - 2), "\r\n");
  return enc.encode(headers + lines.join("") + ".\r\n");
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** Reads one complete (possibly multi-line) SMTP reply. */
class ReplyReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(16384);
  #pending = "";
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  async next(): Promise<string> {
    for (;;) {
      let from = 0;
      for (;;) {
        const nl = this.#pending.indexOf("\n", from);
        if (nl < 0) break;
        if (this.#pending[from + 3] !== "-") {
          const reply = this.#pending.slice(0, nl + 1);
          this.#pending = this.#pending.slice(nl + 1);
          return reply;
        }
        from = nl + 1;
      }
      const n = await this.#conn.read(this.#buf);
      if (n === null) throw new Error("connection closed by server");
      this.#pending += latin1.decode(this.#buf.subarray(0, n));
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Sends one message on a fresh connection; resolves with its accept latency in ms. */
async function sendOne(
  o: ClientOptions,
  payload: Uint8Array,
  cmds: { ehlo: Uint8Array; mail: Uint8Array; rcpts: Uint8Array[] },
): Promise<number> {
  const t0 = performance.now();
  let step = "connect";
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch { /* closed */ }
  }, o.timeoutMs);
  try {
    conn = await Deno.connect({ hostname: o.host, port: o.port });
    conn.setNoDelay(true);
    const rd = new ReplyReader(conn);
    const expect = async (code: string) => {
      const reply = await rd.next();
      if (!reply.startsWith(code)) {
        throw new Error(`${step}: expected ${code}, got ${JSON.stringify(reply.trim())}`);
      }
    };
    step = "greeting";
    await expect("220");
    step = "EHLO";
    await writeAll(conn, cmds.ehlo);
    await expect("250");
    step = "MAIL";
    await writeAll(conn, cmds.mail);
    await expect("250");
    step = "RCPT";
    for (const rcpt of cmds.rcpts) {
      await writeAll(conn, rcpt);
      await expect("250");
    }
    step = "DATA";
    await writeAll(conn, enc.encode("DATA\r\n"));
    await expect("354");
    step = "end of data";
    await writeAll(conn, payload);
    await expect("250");
    const latency = performance.now() - t0;
    step = "QUIT";
    try {
      await writeAll(conn, enc.encode("QUIT\r\n"));
      await rd.next();
    } catch { /* the message is accepted; a dropped QUIT does not matter */ }
    return latency;
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(step) ? msg : `${step}: ${msg}`);
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** Runs the load and returns latency/throughput. Bounded: each message has `timeoutMs` per reply. */
export async function runClient(o: ClientOptions): Promise<ClientResult> {
  const payload = buildMessage(o);
  const at = o.to.indexOf("@");
  const rcpts: Uint8Array[] = [];
  for (let i = 1; i <= o.rcpts; i++) {
    const addr = o.rcpts === 1 ? o.to : `${i}${o.to.slice(0, at)}${o.to.slice(at)}`;
    rcpts.push(enc.encode(`RCPT TO:<${addr}>\r\n`));
  }
  const cmds = {
    ehlo: enc.encode(`EHLO ${o.helo}\r\n`),
    mail: enc.encode(`MAIL FROM:<${o.from}>\r\n`),
    rcpts,
  };
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const session = async () => {
    while (next < o.messages) {
      next++;
      try {
        latencies.push(await sendOne(o, payload, cmds));
      } catch (e) {
        failed++;
        firstError ??= (e as Error).message;
        // a refused connection fails instantly: do not spin
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.sessions) }, session));
  const elapsedMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);
  return {
    ok: latencies.length,
    failed,
    firstError,
    startedAt: performance.timeOrigin + t0,
    elapsedMs,
    acceptedPerSec: latencies.length / (elapsedMs / 1000),
    latency: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.length ? latencies[latencies.length - 1] : NaN,
      mean,
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      target: { type: "string", default: "127.0.0.4:2525" },
      n: { type: "string", short: "n", default: "1000" },
      c: { type: "string", short: "c", default: "20" },
      s: { type: "string", short: "s", default: "5120" },
      r: { type: "string", short: "r", default: "1" },
      from: { type: "string", default: "a@bench.local" },
      to: { type: "string", default: "b@example.com" },
      helo: { type: "string", default: "client.bench.local" },
      timeout: { type: "string", default: "60000" },
    },
  });
  const colon = values.target.lastIndexOf(":");
  const result = await runClient({
    host: values.target.slice(0, colon),
    port: Number(values.target.slice(colon + 1)),
    messages: Number(values.n),
    sessions: Number(values.c),
    size: Number(values.s),
    rcpts: Number(values.r),
    from: values.from,
    to: values.to,
    helo: values.helo,
    timeoutMs: Number(values.timeout),
  });
  console.log(JSON.stringify(result));
}
