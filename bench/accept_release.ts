/**
 * What returning a crashed SMTP worker's accept leases costs (core/store/units_lease.ts
 * `returnLeasePrefix`, docs/watchdog.md): a queue of `--queued` units (half of them leased under
 * other runs' tokens), plus `--lost` units leased under the crashed run's prefix and `--kept`
 * under it that the scheduler adopted; each round leases the lost ones again and times the one
 * UPDATE that returns them.
 *
 *   deno run -A bench/accept_release.ts [--kind sqlite3|postgres|mysql] [--queued N] [--rounds N]
 *
 * Wall clock per UPDATE (ms, median over rounds).
 */
import { parseArgs } from "node:util";
import { createTestDatabase, type TestDatabaseKind } from "../tests/helpers/databases.ts";
import type { NewMessage } from "../core/contracts/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kind: { type: "string", default: "sqlite3" },
    queued: { type: "string", default: "100000" },
    lost: { type: "string", default: "50" },
    kept: { type: "string", default: "200" },
    rounds: { type: "string", default: "9" },
  },
});
const queued = Number(values.queued);
const lost = Number(values.lost);
const kept = Number(values.kept);
const body = new TextEncoder().encode("Subject: bench\r\n\r\nx\r\n");

await using db = await createTestDatabase(values.kind as TestDatabaseKind);
const store = await db.open("deliver", 2);
await store.migrate();

function messages(prefix: string, n: number): NewMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    sender: "s@example.test",
    recipients: [`r${i}@d${i % 7}.test`],
    channel: "smtp" as const,
    clientIp: "127.0.0.1",
    receivedAt: Date.now(),
    body,
  }));
}

async function insert(prefix: string, n: number, token?: string) {
  for (let i = 0; i < n; i += 1000) {
    const batch = messages(`${prefix}${i}-`, Math.min(1000, n - i));
    const now = Date.now();
    const unitIds = new Set(batch.map((m) => `${m.id}.0`));
    const lease = token
      ? { owner: "node-1", token: `${token}${i}`, now, until: now + 600_000, unitIds }
      : undefined;
    await store.insertMessages(batch, lease ? { lease } : {});
  }
}

await insert("q", queued / 2);
await insert("o", queued / 2, "other.0.0.");
await insert("k", kept, "run.0.0.kept");
const keep = Array.from({ length: Math.ceil(kept / 1000) }, (_, i) => `run.0.0.kept${i * 1000}`);

const times: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  await insert(`l${round}-`, lost, "run.0.0.lost");
  const t = performance.now();
  const returned = await store.returnLeasePrefix("node-1", "run.0.0.", keep, Date.now());
  times.push(performance.now() - t);
  if (returned !== lost) throw new Error(`returned ${returned}, expected ${lost}`);
}
times.sort((a, b) => a - b);
console.log(
  `${values.kind}: queue ${queued + kept} units, return ${lost} by prefix keeping ${kept}: ` +
    `median ${times[Math.floor(times.length / 2)].toFixed(2)} ms (min ${times[0].toFixed(2)}, ` +
    `max ${times.at(-1)!.toFixed(2)}) over ${times.length} rounds`,
);
await store.close();
