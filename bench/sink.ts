/**
 * A minimal counting SMTP sink on Deno's native TCP API (measured faster than node:net and on par
 * with Postfix's smtp-sink here): accepts everything, keeps no data, counts messages, recipients
 * and null-sender (bounce) messages. Supports PIPELINING and several transactions per connection;
 * advertises no STARTTLS/CHUNKING.
 *
 * Run as its own process so its CPU is not mixed with the harness:
 *   deno run --allow-net bench/sink.ts --listen 127.0.0.3:2526
 * It prints `READY <host:port>` once listening, then a line `C <msgs> <rcpts> <bounces> <ms> <4xx>
 * <5xx>` at most every 10 ms while counts change, where `<ms>` is the wall clock (ms since the
 * epoch, fractional) at which the last accepted message's final "." arrived. With `--temp-fail P`
 * / `--perm-fail P` it refuses a share of messages (see {@link FailurePlan}).
 */

/** Counters kept by the sink. */
export interface SinkCounts {
  /** Messages completed (final "." received and 250 sent). */
  msgs: number;
  /** Recipients of completed messages. */
  rcpts: number;
  /** Completed messages with a null reverse path (MAIL FROM:<>), i.e. bounces/DSNs. */
  bounces: number;
  /** Wall clock (ms since the epoch) of the last completed message. */
  lastAt: number;
  /** Messages answered 4xx at the final "." (realistic mode). */
  tempFails: number;
  /** Messages answered 5xx at the final "." (realistic mode). */
  permFails: number;
}

/**
 * Realistic mode (KumoMTA's advice: a sink that accepts everything hides backpressure): a share of
 * messages is refused after the final ".". Which ones is decided by the message, not by chance: a
 * hash of its Message-Id (smtp-source and our client give every message a unique one; without one,
 * the arrival index). A message in the `tempPct` band gets 451 on its first attempt and 250 on the
 * retry; one in the `permPct` band gets 550 (a policy refusal, 5.7.1, so the single test recipient
 * is not put on a suppression list) every time. Null-sender messages (DSNs) are always accepted.
 */
export interface FailurePlan {
  /** Percent of messages refused once with 451 4.3.0. */
  tempPct: number;
  /** Percent of messages refused with 550 5.7.1. */
  permPct: number;
}

/** 32-bit FNV-1a: a cheap, stable hash for the Message-Id (no crypto needed). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const HEADER_BYTES = 8192; // enough for the MTA's Received lines plus smtp-source's headers
const MESSAGE_ID = /^message-id:[ \t]*(\S+)/im;

/** The reply for one completed message: 250, or a refusal from the failure plan. */
function decide(
  plan: FailurePlan | undefined,
  header: string,
  index: number,
  seenTemp: Set<string>,
): "ok" | "temp" | "perm" {
  if (!plan) return "ok";
  const id = MESSAGE_ID.exec(header)?.[1] ?? `#${index}`;
  const band = fnv1a(id) % 1000;
  if (band < plan.permPct * 10) return "perm";
  if (band < (plan.permPct + plan.tempPct) * 10 && !seenTemp.has(id)) {
    seenTemp.add(id);
    return "temp";
  }
  return "ok";
}

const TERMINATOR = [13, 10, 46, 13, 10]; // CRLF "." CRLF
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A running sink; `close()` stops listening and drops open connections. */
export interface Sink {
  /** Current counters. */
  counts: SinkCounts;
  /** Stops the sink. */
  close(): void;
}

/**
 * Starts a counting sink on `host:port`. `onCount` is called (coalesced, every 10 ms at most)
 * after counts change.
 */
export function startSink(
  host: string,
  port: number,
  onCount: (c: SinkCounts) => void,
  hostname = "sink.bench.local",
  plan?: FailurePlan,
): Sink {
  const counts: SinkCounts = {
    msgs: 0,
    rcpts: 0,
    bounces: 0,
    lastAt: 0,
    tempFails: 0,
    permFails: 0,
  };
  const seenTemp = new Set<string>();
  let arrivals = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    onCount({ ...counts });
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 10);
    }
  };
  const commit = (rcpts: number, bounce: boolean) => {
    counts.msgs++;
    counts.rcpts += rcpts;
    if (bounce) counts.bounces++;
    counts.lastAt = performance.timeOrigin + performance.now();
    schedule();
  };
  /** The reply to the final "." of a message (counts it when accepted). */
  const finish = (rcpts: number, bounce: boolean, header: string): string => {
    const verdict = bounce ? "ok" : decide(plan, header, arrivals++, seenTemp);
    if (verdict === "ok") {
      commit(rcpts, bounce);
      return "250 2.0.0 Ok: queued\r\n";
    }
    if (verdict === "temp") counts.tempFails++;
    else counts.permFails++;
    schedule();
    return verdict === "temp"
      ? "451 4.3.0 Try again later (bench sink)\r\n"
      : "550 5.7.1 Message refused by policy (bench sink)\r\n";
  };
  const greeting = enc.encode(`220 ${hostname} ESMTP counting sink\r\n`);
  const ehlo = `250-${hostname}\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n250-8BITMIME\r\n` +
    `250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n`;
  const conns = new Set<Deno.TcpConn>();

  const handle = async (conn: Deno.TcpConn) => {
    const buf = new Uint8Array(65536);
    let inData = false;
    let match = 0; // bytes of CRLF "." CRLF matched so far (data mode)
    let line = ""; // partial command line
    let rcpts = 0;
    let bounce = false;
    let header = ""; // first bytes of the message, kept only with a failure plan
    try {
      conn.setNoDelay(true);
      await conn.write(greeting);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        const view = buf.subarray(0, n);
        let out = "";
        let quit = false;
        let i = 0;
        while (i < n) {
          if (inData) {
            const from = i;
            // match starts at 2 right after DATA: the 354 stands in for the preceding CRLF
            for (; i < n; i++) {
              if (match === 0) {
                // skip to the next CR natively: a JS loop over every byte of a 100 KB body
                // cost the shared CPUs more than Postfix's smtp-sink does
                const cr = view.indexOf(13, i);
                if (cr < 0) {
                  i = n;
                  break;
                }
                i = cr;
              }
              const b = buf[i];
              if (b === TERMINATOR[match]) {
                if (++match === 5) {
                  i++;
                  break;
                }
              } else {
                match = b === 13 ? 1 : 0;
              }
            }
            if (plan && header.length < HEADER_BYTES) {
              header += latin1.decode(buf.subarray(from, Math.min(i, from + HEADER_BYTES)));
            }
            if (match === 5) {
              inData = false;
              match = 0;
              out += finish(rcpts, bounce, header);
              rcpts = 0;
              bounce = false;
              header = "";
            }
            continue;
          }
          const nl = view.indexOf(10, i);
          if (nl < 0) {
            line += latin1.decode(buf.subarray(i, n));
            if (line.length > 65536) quit = true;
            break;
          }
          line += latin1.decode(buf.subarray(i, nl));
          i = nl + 1;
          const cmd = line;
          line = "";
          switch (cmd.slice(0, 4).toUpperCase()) {
            case "EHLO":
              out += ehlo;
              break;
            case "HELO":
              out += `250 ${hostname}\r\n`;
              break;
            case "MAIL":
              rcpts = 0;
              bounce = /<\s*>/.test(cmd);
              out += "250 2.1.0 Ok\r\n";
              break;
            case "RCPT":
              rcpts++;
              out += "250 2.1.5 Ok\r\n";
              break;
            case "DATA":
              inData = true;
              match = 2;
              out += "354 End data with <CR><LF>.<CR><LF>\r\n";
              break;
            case "RSET":
              rcpts = 0;
              bounce = false;
              out += "250 2.0.0 Ok\r\n";
              break;
            case "NOOP":
              out += "250 2.0.0 Ok\r\n";
              break;
            case "QUIT":
              out += "221 2.0.0 Bye\r\n";
              quit = true;
              break;
            default:
              out += "502 5.5.2 Error: command not recognized\r\n";
          }
          if (quit) break;
        }
        if (out) {
          const bytes = enc.encode(out);
          let off = 0;
          while (off < bytes.length) off += await conn.write(bytes.subarray(off));
        }
        if (quit) break;
      }
    } catch {
      // peer reset etc.: nothing to keep
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  };

  const listener = Deno.listen({ hostname: host, port });
  (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        handle(conn);
      }
    } catch { /* listener closed */ }
  })();
  return {
    counts,
    close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const at = args.indexOf("--listen");
  const listen = at >= 0 ? args[at + 1] : "127.0.0.3:2526";
  const colon = listen.lastIndexOf(":");
  const host = listen.slice(0, colon);
  const port = Number(listen.slice(colon + 1));
  const write = (s: string) => {
    const bytes = enc.encode(s);
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  };
  const pct = (name: string) => {
    const at = args.indexOf(name);
    const v = at >= 0 ? Number(args[at + 1]) : 0;
    if (!(v >= 0 && v <= 100)) throw new Error(`${name} must be a percentage 0-100`);
    return v;
  };
  const tempPct = pct("--temp-fail");
  const permPct = pct("--perm-fail");
  const plan = tempPct || permPct ? { tempPct, permPct } : undefined;
  startSink(
    host,
    port,
    (c) => write(`C ${c.msgs} ${c.rcpts} ${c.bounces} ${c.lastAt} ${c.tempFails} ${c.permFails}\n`),
    "sink.bench.local",
    plan,
  );
  write(`READY ${listen}\n`);
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}
