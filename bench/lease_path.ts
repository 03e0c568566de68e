/**
 * What the scheduler's lease path costs per statement, in the server's pattern (issue 19,
 * `queue.lease_at_accept`): each round group-commits `--batch` messages (accept-role store,
 * synchronous=FULL) and then, as the main thread does when the SMTP worker reports them, runs a
 * lease pass on the deliver-role store (BEGIN IMMEDIATE, due units SELECT, lease UPDATE, units
 * and recipients SELECTs, COMMIT), the timer's `nextDueAt` and an empty pass (what a settle's
 * wake costs when nothing is due), and settles the units (untimed). Every other round inserts the
 * batch already leased instead (the accept-time lease), which needs none of the lease pass.
 *
 *   deno run -A bench/lease_path.ts [--rounds N] [--batch N] [--recipients N]
 *
 * Times are wall clock (µs per message, medians over rounds); node:sqlite is synchronous, so on
 * an idle CPU they are the main thread's CPU.
 */
import { parseArgs } from "node:util";
import { createTestDatabase } from "../tests/helpers/databases.ts";
import { type LeasedUnit, type NewMessage, unitsOf } from "../core/contracts/mod.ts";
import { dueUnitsQuery, loadUnits } from "../core/store/units_lease.ts";
import { deliveredOutcome } from "./store_units.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "300" },
    batch: { type: "string", default: "15" },
    recipients: { type: "string", default: "1" },
  },
});
const rounds = Number(values.rounds);
const batch = Number(values.batch);
const perMessage = Number(values.recipients);
const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(5_000) + "\r\n");

const db = await createTestDatabase("sqlite3");
const accept = await db.open("accept", 1);
const main = await db.open("deliver", 1);
await main.migrate();

const timings = new Map<string, number[]>();
function note(name: string, us: number) {
  let list = timings.get(name);
  if (!list) timings.set(name, list = []);
  list.push(us / batch);
}
function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function messagesOf(round: number): NewMessage[] {
  return Array.from({ length: batch }, (_, j) => ({
    id: `r${round}m${j}`,
    sender: "s@example.test",
    recipients: Array.from({ length: perMessage }, (_, k) => `r${j}-${k}@d${j % 7}.test`),
    channel: "smtp" as const,
    clientIp: "127.0.0.1",
    receivedAt: Date.now(),
    body,
  }));
}

/** One lease pass as leaseDue runs it, each statement timed. */
async function timedLease(now: number): Promise<LeasedUnit[]> {
  const token = crypto.randomUUID();
  const t0 = performance.now();
  let parts = 0;
  const units = await main.db.transaction().execute(async (trx) => {
    let t = performance.now();
    const due = await trx.executeQuery(dueUnitsQuery(trx, main.dialect, now, 200));
    const ids = due.rows.map((r) => r.id);
    let d = performance.now() - t;
    note("lease: due units SELECT", d * 1000);
    parts += d;
    if (ids.length === 0) return [];
    t = performance.now();
    await trx.updateTable("queue")
      .set((eb) => ({
        lease_owner: "bench",
        lease_token: token,
        due_at: now + 600_000,
        attempts: eb("attempts", "+", 1),
        updated_at: now,
      }))
      .where("id", "in", ids).execute();
    d = performance.now() - t;
    note("lease: UPDATE", d * 1000);
    parts += d;
    t = performance.now();
    const loaded = await loadUnits(trx, ids, token);
    d = performance.now() - t;
    note("lease: units + recipients SELECTs", d * 1000);
    parts += d;
    return loaded;
  });
  const total = performance.now() - t0;
  note("lease: BEGIN + COMMIT + Kysely", (total - parts) * 1000);
  note("lease pass, total", total * 1000);
  return units;
}

async function settle(units: LeasedUnit[]) {
  const now = Date.now();
  const outcomes = units.map((u) => deliveredOutcome(u, now));
  await main.settle(outcomes);
}

try {
  for (let round = 0; round < rounds; round++) {
    const messages = messagesOf(round);
    const leasedAtAccept = round % 2 === 1;
    const now = Date.now();
    let units: LeasedUnit[];
    if (leasedAtAccept) {
      const token = crypto.randomUUID();
      const all = new Set(messages.flatMap((m) => unitsOf(m).map((u) => u.unitId)));
      const t = performance.now();
      await accept.insertMessages(messages, {
        lease: { owner: "bench", token, now, until: now + 600_000, unitIds: all },
      });
      note("insert, leased at accept", (performance.now() - t) * 1000);
      const rows = await main.db.selectFrom("queue").select("id")
        .where("lease_token", "=", token).execute();
      units = await main.db.transaction().execute((trx) =>
        loadUnits(trx, rows.map((r) => r.id), token)
      );
    } else {
      const t = performance.now();
      await accept.insertMessages(messages);
      note("insert, unleased", (performance.now() - t) * 1000);
      units = await timedLease(now);
      let t2 = performance.now();
      await main.nextDueAt();
      note("nextDueAt SELECT", (performance.now() - t2) * 1000);
      t2 = performance.now();
      await main.db.transaction().execute(async (trx) => {
        await trx.executeQuery(dueUnitsQuery(trx, main.dialect, Date.now(), 200));
      });
      note("empty pass (BEGIN, SELECT, COMMIT)", (performance.now() - t2) * 1000);
    }
    await settle(units);
  }
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  console.log(
    `lease path, ${rounds} rounds of ${batch} messages × ${perMessage} recipient(s), ` +
      `half leased at accept; load ${load}; µs per message, medians:`,
  );
  for (const [name, list] of timings) {
    console.log(`  ${name.padEnd(40)} ${median(list).toFixed(1).padStart(8)}`);
  }
} finally {
  await accept.close();
  await main.close();
  await db.drop();
}
