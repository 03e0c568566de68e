/**
 * Load generators: Postfix's `smtp-source` (throughput; reports nothing but its exit status) and our
 * instrumented client `bench/client.ts` (accept latency per message). Both run as separate
 * processes, one message per connection, C concurrent sessions, R recipients per message.
 */
import type { ClientResult } from "./client.ts";
import { SMTP_SOURCE } from "./postfix.ts";
import { now, spawn } from "./util.ts";

/** One load: N messages of S bytes over C sessions, R recipients each. */
export interface Load {
  /** Target host:port. */
  target: string;
  /** Messages. */
  messages: number;
  /** Concurrent sessions. */
  sessions: number;
  /** Body bytes per message. */
  size: number;
  /** Recipients per message. */
  rcpts: number;
  /** Send every session's messages over one connection (smtp-source `-d`). */
  reuse?: boolean;
}

/** Envelope used by both generators (recipients 1b@example.com.. when R > 1). */
export const ENVELOPE = { from: "a@bench.local", to: "b@example.com", helo: "client.bench.local" };

/** Result of one load run. */
export interface LoadResult {
  /** Wall clock at start, ms since the epoch. */
  startedAt: number;
  /** Wall clock when the generator finished. */
  endedAt: number;
  /** Messages accepted (smtp-source: all N on exit 0, else unknown = 0). */
  accepted: number;
  /** Error text if the generator failed or timed out. */
  error?: string;
  /** Latency details (own client only). */
  client?: ClientResult;
}

/** The smtp-source command line for a load. */
export function smtpSourceArgs(l: Load): string[] {
  return [
    ...(l.reuse ? ["-d"] : []),
    "-s",
    String(l.sessions),
    "-m",
    String(l.messages),
    "-l",
    String(l.size),
    "-r",
    String(l.rcpts),
    "-M",
    ENVELOPE.helo,
    "-f",
    ENVELOPE.from,
    "-t",
    ENVELOPE.to,
    l.target,
  ];
}

/** The client command line (for the report). */
export function clientArgs(l: Load): string[] {
  return [
    "--target",
    l.target,
    "-n",
    String(l.messages),
    "-c",
    String(l.sessions),
    "-s",
    String(l.size),
    "-r",
    String(l.rcpts),
    "--from",
    ENVELOPE.from,
    "--to",
    ENVELOPE.to,
    "--helo",
    ENVELOPE.helo,
  ];
}

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!stream) return "";
  return await new Response(stream).text();
}

/** Runs smtp-source; kills it after `timeoutMs`. */
export async function runSmtpSource(l: Load, timeoutMs: number): Promise<LoadResult> {
  const startedAt = now();
  const proc = spawn("smtp-source", SMTP_SOURCE, smtpSourceArgs(l), { stderr: "piped" });
  const errText = readAll(proc.child.stderr);
  const timer = setTimeout(() => proc.stop(1_000), timeoutMs);
  const code = await proc.exited;
  const endedAt = now();
  clearTimeout(timer);
  await proc.stop();
  const stderr = (await errText).trim();
  if (code !== 0) {
    const timedOut = endedAt - startedAt >= timeoutMs - 50;
    return {
      startedAt,
      endedAt,
      accepted: 0,
      error: timedOut
        ? `smtp-source timed out after ${Math.round(timeoutMs / 1000)} s`
        : `smtp-source exited ${code}: ${stderr.split("\n").slice(-3).join(" | ")}`,
    };
  }
  return { startedAt, endedAt, accepted: l.messages };
}

/** Runs the instrumented client; kills it after `timeoutMs`. */
export async function runClient(l: Load, timeoutMs: number): Promise<LoadResult> {
  const startedAt = now();
  const proc = spawn("client", Deno.execPath(), [
    "run",
    "--allow-net",
    "--no-prompt",
    new URL("./client.ts", import.meta.url).pathname,
    ...clientArgs(l),
    "--timeout",
    "60000",
  ], { stdout: "piped", stderr: "piped" });
  const outText = readAll(proc.child.stdout);
  const errText = readAll(proc.child.stderr);
  const timer = setTimeout(() => proc.stop(1_000), timeoutMs);
  const code = await proc.exited;
  const endedAt = now();
  clearTimeout(timer);
  await proc.stop();
  const out = (await outText).trim();
  if (code !== 0) {
    return {
      startedAt,
      endedAt,
      accepted: 0,
      error: `client exited ${code}: ${(await errText).trim().split("\n").slice(-3).join(" | ")}`,
    };
  }
  const client = JSON.parse(out.split("\n").pop()!) as ClientResult;
  return {
    // the client times its own run (excludes Deno start-up)
    startedAt: client.startedAt,
    endedAt: client.startedAt + client.elapsedMs,
    accepted: client.ok,
    error: client.failed > 0
      ? `client: ${client.failed} of ${l.messages} failed (${client.firstError})`
      : undefined,
    client,
  };
}
