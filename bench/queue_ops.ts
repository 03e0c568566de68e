/**
 * Queue operations at scale: search on N stored messages (default 1 000 000: one unit and one
 * recipient each, 200-byte bodies) by every indexed field, the query plan of each (EXPLAIN:
 * SQLite's QUERY PLAN, PostgreSQL's plan), then a bulk retry job over D deferred units
 * (default 100 000): wall time and the process's peak RSS (VmHWM). Each database is fresh and
 * dropped after.
 *
 *   deno run -A bench/queue_ops.ts [sqlite3|postgres|mysql …] [--messages N] [--deferred D]
 */
import { parseArgs } from "node:util";
import { createTestDatabase, type TestDatabaseKind } from "../tests/helpers/databases.ts";
import type { NewMessage, UnitOutcome } from "../core/contracts/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { storeFilter } from "../core/manage/queue_search.ts";
import type { Actor } from "../core/manage/types.ts";
import type { SqlStore } from "../core/store/mod.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "1000000" },
    deferred: { type: "string", default: "100000" },
  },
  allowPositionals: true,
});
const total = Number(values.messages);
const deferred = Math.min(total, Number(values.deferred));
const kinds = (positionals.length ? positionals : ["sqlite3", "postgres"]) as TestDatabaseKind[];
const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(180) + "\r\n");
const actor: Actor = { name: "bench", role: "admin", channel: "cli" };
const T0 = Date.now() - 86_400_000;

/** Peak resident memory of this process so far (VmHWM), in MiB. */
function peakRssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024);
}

function ms(started: number): string {
  return `${(performance.now() - started).toFixed(1)} ms`;
}

/** Message i: 1 000 senders, 5 000 domains, 10 pools, 100 tags, one second apart. */
function messageAt(i: number): NewMessage {
  return {
    id: `b${i.toString(36).padStart(8, "0")}`,
    sender: `s${i % 1000}@senders.test`,
    recipients: [`r${i}@d${i % 5000}.test`],
    channel: "api",
    clientIp: null,
    receivedAt: T0 + i,
    body,
    meta: { pool: `pool${i % 10}`, tag: `tag${i % 100}` },
  };
}

async function fill(store: SqlStore) {
  const started = performance.now();
  const batch = 2_000;
  for (let i = 0; i < total; i += batch) {
    const n = Math.min(batch, total - i);
    await store.insertMessages(Array.from({ length: n }, (_, k) => messageAt(i + k)));
  }
  console.log(`  inserted ${total} messages in ${ms(started)}`);
  // Defer the oldest D units through the store's own lease and settle (one attempt each).
  const startedDefer = performance.now();
  let done = 0;
  while (done < deferred) {
    const units = await store.leaseDue({
      owner: "bench",
      token: crypto.randomUUID(),
      now: Date.now(),
      leaseMs: 600_000,
      limit: Math.min(5_000, deferred - done),
    });
    if (units.length === 0) break;
    const outcomes: UnitOutcome[] = units.map((u) => ({
      kind: "deferred",
      unitId: u.unitId,
      messageId: u.messageId,
      domain: u.domain,
      leaseToken: u.leaseToken,
      at: Date.now(),
      durationMs: 1,
      sourceIp: "127.0.0.10",
      mxHost: null,
      remoteIp: null,
      tls: false,
      results: u.recipients.map((address) => ({
        address,
        outcome: "deferred" as const,
        code: 451,
        reply: "4.7.1 greylisted",
      })),
      retryAt: Date.now() + 3_600_000,
      reason: "remote",
    }));
    for (let i = 0; i < outcomes.length; i += 500) await store.settle(outcomes.slice(i, i + 500));
    done += units.length;
  }
  console.log(`  deferred ${done} units in ${ms(startedDefer)}`);
}

const FILTERS: Record<string, unknown>[] = [
  { id: messageAt(777_777 % total).id },
  { sender: "s123@senders.test" },
  { recipient: `r${(total - 5) >>> 0}@d${(total - 5) % 5000}.test` },
  { domain: "d4321.test" },
  { pool: "pool7" },
  { tag: "tag42" },
  { vmta: "127.0.0.10" },
  { state: "deferred" },
  { state: "queued" },
  { max_age: "1h" },
  { min_age: "30h" },
  { domain: "d17.test", state: "deferred" },
  { reply: "451" },
  { reply: "4.7.1" },
  { reply: "451 4.7.1" },
  { reply: "5.1.1" },
  { reply: "greylisted" },
];

for (const kind of kinds) {
  const db = await createTestDatabase(kind);
  const store = await db.open("deliver", 5);
  try {
    await store.migrate();
    console.log(`## ${kind}: ${total} messages, ${deferred} deferred`);
    await fill(store);
    // Statistics as autovacuum would have them on a live database (the plans depend on them).
    await store.explainSearch({}, { analyze: true });
    const service = new QueueService(store, db.config(), () => {});
    for (const filter of FILTERS) {
      const started = performance.now();
      const page = await service.search(actor, filter, { limit: 100 });
      const searchMs = ms(started);
      const startedCount = performance.now();
      const count = await store.countUnits(storeFilter(filter as never, { vmtas: [] }, Date.now()));
      console.log(
        `  ${JSON.stringify(filter)}: page of ${page.items.length} in ${searchMs}; ` +
          `count ${count} in ${ms(startedCount)}`,
      );
      const plan = await store.explainSearch(
        storeFilter(filter as never, { vmtas: [] }, Date.now()),
      );
      console.log(`    plan: ${plan.join(" | ")}`);
    }
    // The fill's peak is not the job's: reset the high-water mark (Linux clear_refs "5").
    const rssBefore = peakRssMiB();
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    const started = performance.now();
    const { total: selected, job } = await service.bulk(actor, {
      action: "retry",
      filter: { state: "deferred" },
    });
    const end = await service.runJob(actor, job!.id);
    console.log(
      `  bulk retry: ${selected} selected, ${end.changed} changed, ${end.state} in ${
        ms(started)
      }; peak RSS during the job ${peakRssMiB()} MiB (${rssBefore} MiB after the fill)`,
    );
    await service.close();
  } finally {
    await store.close();
    await db.drop();
  }
}
