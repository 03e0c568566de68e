/**
 * Plays fuzzed sessions (smtp_sessions.ts) against a server over raw TCP and checks every reply
 * line it gets back: a three-digit code 2xx–5xx, then a space, a hyphen or nothing.
 *
 * @module
 */
import type { FuzzSession } from "./smtp_sessions.ts";

/** What one session saw. */
export interface SessionOutcome {
  replies: number;
  /** Reply lines that are not valid SMTP replies. */
  invalid: string[];
  /** Messages the server took (a 250 naming a queue id). */
  queued: number;
  /** Replies by first digit (2, 3, 4, 5). */
  classes: number[];
  /** Whether the server closed the connection before we did. */
  closedByServer: boolean;
}

const REPLY = /^[2-5]\d\d([ -].*)?$/s;

/** Plays `session` against host:port; never throws for connection errors (they are outcomes). */
export async function playSession(
  host: string,
  port: number,
  session: FuzzSession,
  idleMs = 300,
): Promise<SessionOutcome> {
  const outcome: SessionOutcome = {
    replies: 0,
    queued: 0,
    classes: [0, 0, 0, 0, 0, 0],
    invalid: [],
    closedByServer: false,
  };
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: host, port });
  } catch (error) {
    outcome.invalid.push(`connect failed: ${(error as Error).message}`);
    return outcome;
  }
  let lastByte = Date.now();
  let buffer = "";
  const decoder = new TextDecoder("latin1");
  const reading = (async () => {
    try {
      for await (const chunk of conn.readable) {
        lastByte = Date.now();
        buffer += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\r\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          outcome.replies++;
          if (!REPLY.test(line)) outcome.invalid.push(JSON.stringify(line.slice(0, 200)));
          else if (line[3] !== "-") outcome.classes[Number(line[0])]++;
          if (/^250 .*queued as/.test(line)) outcome.queued++;
        }
      }
      outcome.closedByServer = true;
    } catch {
      outcome.closedByServer = true; // reset by the server
    }
  })();
  const writer = conn.writable.getWriter();
  try {
    for (const chunk of session.chunks) await writer.write(chunk);
  } catch {
    // The server closed on us (a 421 or a hard limit): allowed.
  }
  if (!session.abrupt) {
    // Read until the server closes (after QUIT) or stays quiet for idleMs.
    const deadline = Date.now() + 15_000;
    while (!outcome.closedByServer && Date.now() < deadline && Date.now() - lastByte < idleMs) {
      await Promise.race([reading, new Promise((r) => setTimeout(r, 25))]); // a poll, not a wait
    }
  }
  try {
    conn.close();
  } catch {
    // already closed
  }
  await reading;
  if (buffer.length > 0 && outcome.closedByServer && !session.abrupt) {
    // A final line without CRLF is only acceptable if the server cut the session itself.
    if (!REPLY.test(buffer)) {
      outcome.invalid.push(`partial ${JSON.stringify(buffer.slice(0, 200))}`);
    }
  }
  return outcome;
}

/** Runs `count` sessions `concurrency` at a time; calls `check` after each `every` sessions. */
export async function playMany(
  count: number,
  concurrency: number,
  play: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (next < count) await play(next++);
  });
  await Promise.all(lanes);
}
