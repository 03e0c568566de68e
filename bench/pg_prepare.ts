/**
 * A/B of named prepared statements (core/store/pg_prepared.ts) on the distributed node's hot
 * reads, in one process so both sides see the same machine load: two stores on one fresh
 * PostgreSQL database, one opened with `FASTMTA_PG_PREPARE=off`, each on one connection, run
 * the same rounds in alternation — the lease check of a batch of units (`unitStates`), its
 * body heads and its suppression lookup (reads only: a write's cost is its WAL flush, which
 * naming does not change). Reports the CPU of
 * each side's PostgreSQL backend (`/proc/<pid>/stat`) and of this process per round.
 *
 *   deno run -A bench/pg_prepare.ts [--messages 2000] [--rounds 3000] [--batch 6]
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { adminQuery, createTestDatabase } from "../tests/helpers/databases.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { unitsOf } from "../core/contracts/mod.ts";
import { CLK_TCK, readStat } from "./procstat.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "2000" },
    rounds: { type: "string", default: "3000" },
    batch: { type: "string", default: "6" },
  },
});
const total = Number(values.messages);
const rounds = Number(values.rounds);
const batch = Number(values.batch);

const db = await createTestDatabase("postgres");
const backendsOf = async () =>
  new Set(
    (await adminQuery(
      "postgres",
      `select pid from pg_stat_activity where datname = '${db.name}'`,
    )).map((r) => Number((r as { pid: number }).pid)),
  );

/** Opens a store on one connection with prepared statements on or off; its backend's pid. */
async function openSide(prepare: boolean) {
  const before = await backendsOf();
  if (prepare) Deno.env.delete("FASTMTA_PG_PREPARE");
  else Deno.env.set("FASTMTA_PG_PREPARE", "off");
  const store = await db.open("deliver", 1);
  await store.unitStates(["none"]);
  const pid = [...await backendsOf()].find((p) => !before.has(p)) ?? 0;
  return { name: prepare ? "prepared" : "unnamed", store, pid, backend: 0, client: 0 };
}

const setup = await db.open("accept", 4);
await setup.migrate();
const body = new TextEncoder().encode("Subject: bench\r\n\r\n" + "x".repeat(5_000) + "\r\n");
const unitIds: string[] = [];
const messageIds: string[] = [];
for (let i = 0; i < total; i += 200) {
  const messages: NewMessage[] = [];
  for (let j = i; j < Math.min(total, i + 200); j++) {
    const m: NewMessage = {
      id: `p${j}`,
      sender: "s@example.test",
      recipients: [`r${j}@d${j % 100}.test`],
      channel: "smtp",
      clientIp: "127.0.0.1",
      receivedAt: Date.now(),
      body,
    };
    messages.push(m);
    messageIds.push(m.id);
    for (const u of unitsOf(m)) unitIds.push(u.unitId);
  }
  await setup.insertMessages(messages, { unconfirmedSince: Date.now() });
}
await setup.close();

const sides = [await openSide(false), await openSide(true)];
const cpuOf = (pid: number) => {
  const s = readStat(pid);
  return s ? (s.utime + s.stime) / CLK_TCK : 0;
};
const pick = (ids: string[], r: number) =>
  Array.from({ length: batch }, (_, k) => ids[(r * batch + k) % ids.length]);

for (let r = 0; r < rounds; r++) {
  for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
    const b0 = cpuOf(side.pid);
    const c0 = process.cpuUsage();
    const units = pick(unitIds, r);
    const msgs = pick(messageIds, r);
    await side.store.unitStates(units);
    await side.store.readBodyHeads(msgs, 16_384);
    await side.store.suppressions(msgs.map((m) => `${m}@d.test`), Date.now(), "example.test");
    const c1 = process.cpuUsage(c0);
    side.client += (c1.user + c1.system) / 1e6;
    side.backend += cpuOf(side.pid) - b0;
  }
}
console.log(
  `${rounds} rounds of ${batch} units (lease check, body heads, suppressions); ` +
    `load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
);
for (const side of sides) {
  console.log(
    `  ${side.name.padEnd(9)} backend ${(side.backend / rounds * 1000).toFixed(3)} ms/round, ` +
      `this process ${(side.client / rounds * 1000).toFixed(3)} ms/round`,
  );
  await side.store.close();
}
await db[Symbol.asyncDispose]();
