/**
 * The ledger every fault test must balance (issue 18): every message a client saw 250/202 for is
 * delivered (seen by the sink), failed with a DSN (the DSN seen by the sink), or still queued.
 * Duplicates (a subject the sink saw more than once) and deliveries the client never saw a 250
 * for (the server died between the commit and the reply) are counted and reported, not failures.
 *
 * @module
 */
import type { SinkMessage } from "../helpers/smtp_sink.ts";
import { runCli } from "../helpers/server_process.ts";
import { waitUntil } from "../helpers/wait.ts";

/** The store's recipient counts (`fastmta queue --json`). */
export interface QueueCounts {
  queued: number;
  deferred: number;
  delivered: number;
  failed: number;
  suppressed: number;
  in_flight_units: number;
}

/** The balance of one run. */
export interface Ledger {
  accepted: number;
  delivered: number;
  failedWithDsn: number;
  stillQueued: number;
  /** Accepted subjects in none of the three (must be 0). */
  missing: string[];
  /** Subjects the sink saw more than once, and how many extra copies in all. */
  duplicateSubjects: number;
  extraCopies: number;
  /** Subjects at the sink that no client saw a 250 for. */
  unacknowledged: number;
  balanced: boolean;
}

function subjectOf(text: string, prefix: string): string | undefined {
  return text.match(new RegExp(`^Subject: (${prefix}\\d+)\\r?$`, "m"))?.[1];
}

/**
 * Balances `accepted` (subject → queue id) against what the sink saw and what the store still
 * holds. A DSN is a message with the null sender quoting the original's Subject header.
 */
export function balance(
  accepted: Map<string, string>,
  sinkMessages: readonly SinkMessage[],
  prefix: string,
  stillQueuedSubjects: ReadonlySet<string> = new Set(),
): Ledger {
  const copies = new Map<string, number>();
  const bounced = new Set<string>();
  for (const message of sinkMessages) {
    const subject = subjectOf(message.text(), prefix);
    if (!subject) continue;
    if (message.mailFrom === "") bounced.add(subject);
    else copies.set(subject, (copies.get(subject) ?? 0) + 1);
  }
  let delivered = 0, failedWithDsn = 0, stillQueued = 0;
  const missing: string[] = [];
  for (const subject of accepted.keys()) {
    if (copies.has(subject)) delivered++;
    else if (bounced.has(subject)) failedWithDsn++;
    else if (stillQueuedSubjects.has(subject)) stillQueued++;
    else missing.push(subject);
  }
  const repeated = [...copies.values()].filter((n) => n > 1);
  return {
    accepted: accepted.size,
    delivered,
    failedWithDsn,
    stillQueued,
    missing,
    duplicateSubjects: repeated.length,
    extraCopies: repeated.reduce((sum, n) => sum + n - 1, 0),
    unacknowledged: [...copies.keys()].filter((s) => !accepted.has(s)).length,
    balanced: missing.length === 0 &&
      accepted.size === delivered + failedWithDsn + stillQueued,
  };
}

/** One line for the test's output (and bench/RESULTS.md). */
export function describeLedger(name: string, ledger: Ledger): string {
  return `${name}: accepted ${ledger.accepted} = delivered ${ledger.delivered} + failed with DSN ` +
    `${ledger.failedWithDsn} + still queued ${ledger.stillQueued}` +
    (ledger.missing.length
      ? ` MISSING ${ledger.missing.length} (${ledger.missing.slice(0, 5)})`
      : "") +
    `; duplicates ${ledger.duplicateSubjects} subjects (${ledger.extraCopies} extra copies); ` +
    `delivered without a 250 seen ${ledger.unacknowledged}`;
}

/** The store's counts through the CLI (works while the server runs, or after). */
export async function queueCounts(configPath: string): Promise<QueueCounts> {
  const out = await runCli(["queue", "--config", configPath, "--json"]);
  if (out.code !== 0) throw new Error(`fastmta queue failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as QueueCounts;
}

/** Waits until the store holds nothing queued, deferred or in flight. */
export async function waitDrained(configPath: string, timeoutMs = 120_000): Promise<QueueCounts> {
  return await waitUntil(async () => {
    const counts = await queueCounts(configPath);
    return counts.queued + counts.deferred + counts.in_flight_units === 0 ? counts : null;
  }, { timeoutMs, intervalMs: 250, message: "the queue drained" });
}

/**
 * What the store holds for each missing message (`fastmta queue show ID`), for the failure
 * message of a test whose ledger does not balance: a message in an unexpected state reads very
 * differently from one the store never saw.
 */
export async function describeMissing(
  ledger: Ledger,
  accepted: Map<string, string>,
  configPath: string,
): Promise<string> {
  const lines: string[] = [];
  for (const subject of ledger.missing.slice(0, 5)) {
    const id = accepted.get(subject) ?? "?";
    const out = await runCli(["queue", "show", id, "--config", configPath]);
    lines.push(`${subject} ${id}: ${(out.code === 0 ? out.stdout : out.stderr).trim()}`);
  }
  return lines.join("\n");
}
