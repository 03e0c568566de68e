/**
 * What bench/lease_mix.ts and bench/settle_mix.ts share: a count of the statements SQLite is asked
 * to prepare (the statement caches' misses), a seeded generator so every tree sees the same
 * batches, the process's CPU clock and the seeding of a store with 5 KB messages.
 */
// deno-lint-ignore-file no-explicit-any
import { DatabaseSync } from "node:sqlite";

/** Statements prepared (and their SQL's characters) since the last `reset()`. */
export interface PrepareCount {
  count: number;
  chars: number;
  reset(): void;
}

/** Wraps `DatabaseSync#prepare` in this process to count what it is asked to prepare. */
export function countPrepares(): PrepareCount {
  const counter: PrepareCount = {
    count: 0,
    chars: 0,
    reset() {
      counter.count = counter.chars = 0;
    },
  };
  const prepare = (DatabaseSync.prototype as any).prepare;
  (DatabaseSync.prototype as any).prepare = function (sql: string) {
    counter.count++;
    counter.chars += sql.length;
    return prepare.call(this, sql);
  };
  return counter;
}

/** A small seeded generator (mulberry32): the same draws in every tree. */
export function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** This process's user + system CPU in µs. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

const BODY = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(5_000) + "\r\n");

/** Inserts `total` 5 KB messages, 20 per batch, message `j` to `recipientOf(j)`. */
export async function seedMessages(
  store: { insertMessages(messages: any[]): Promise<unknown> },
  total: number,
  now: number,
  recipientOf: (j: number) => string,
): Promise<void> {
  for (let i = 0; i < total; i += 20) {
    const messages = [];
    for (let j = i; j < Math.min(total, i + 20); j++) {
      messages.push({
        id: `b${String(j).padStart(6, "0")}`,
        sender: "s@example.test",
        recipients: [recipientOf(j)],
        channel: "smtp",
        clientIp: "127.0.0.1",
        receivedAt: now,
        body: BODY,
      });
    }
    await store.insertMessages(messages);
  }
}
