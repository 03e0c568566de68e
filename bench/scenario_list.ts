/**
 * The scenarios of `deno task bench`: the throughput cases (sizes, sessions, recipients,
 * connection reuse), the realistic one with a refusing sink, and the queue drain.
 */
import type { SinkFailures } from "./sinks.ts";

/** One benchmark scenario. */
export interface Scenario {
  /** Short id used on the command line. */
  id: string;
  /** Human title. */
  title: string;
  /** Body bytes per message. */
  size: number;
  /** Concurrent sessions. */
  sessions: number;
  /** Recipients per message (same domain). */
  rcpts: number;
  /** Messages. */
  messages: number;
  /** Queue-drain run (sink down while accepting). */
  drain?: boolean;
  /** Realistic sink: refuses this share of messages (retries, DSNs in the measured path). */
  failures?: SinkFailures;
  /** Many messages per connection (`smtp-source -d`) instead of one per connection. */
  reuse?: boolean;
}

/** The scenarios with full-run message counts. */
export const SCENARIOS: readonly Scenario[] = [
  {
    id: "5k-20x1",
    title: "5 KB × 20 sessions × 1 rcpt",
    size: 5120,
    sessions: 20,
    rcpts: 1,
    messages: 10_000,
  },
  {
    id: "100k-20x1",
    title: "100 KB × 20 sessions × 1 rcpt",
    size: 102_400,
    sessions: 20,
    rcpts: 1,
    messages: 10_000,
  },
  {
    id: "5k-50x10",
    title: "5 KB × 50 sessions × 10 rcpts",
    size: 5120,
    sessions: 50,
    rcpts: 10,
    messages: 10_000,
  },
  {
    id: "5k-50x1",
    title: "5 KB × 50 sessions × 1 rcpt",
    size: 5120,
    sessions: 50,
    rcpts: 1,
    messages: 10_000,
  },
  {
    id: "5k-20x10",
    title: "5 KB × 20 sessions × 10 rcpts",
    size: 5120,
    sessions: 20,
    rcpts: 10,
    messages: 10_000,
  },
  {
    id: "5k-20x1-reuse",
    title: "5 KB × 20 sessions × 1 rcpt, connections reused",
    size: 5120,
    sessions: 20,
    rcpts: 1,
    messages: 10_000,
    reuse: true,
  },
  {
    id: "5k-20x1-realistic",
    title: "5 KB × 20 sessions × 1 rcpt, sink refuses 5 % (451 once) + 2 % (550)",
    size: 5120,
    sessions: 20,
    rcpts: 1,
    messages: 10_000,
    failures: { tempPct: 5, permPct: 2 },
  },
  {
    id: "drain",
    title: "queue drain: 5 KB × 20 sessions, sink down then up",
    size: 5120,
    sessions: 20,
    rcpts: 1,
    messages: 100_000,
    drain: true,
  },
];
