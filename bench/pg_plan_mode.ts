/**
 * PostgreSQL CPU of the accept insert's shape by `plan_cache_mode`: 8 bodies as binary
 * parameters of `unnest(…, array[$n::bytea, …])` (padded to 16 with NULLs, as
 * core/store/bulk_insert.ts does) into a table with an LZ4 body column, one statement
 * (and commit) per batch, run as a named statement, in a database of its own (dropped after). A custom plan turns the body parameters into
 * constants and folds the array while planning, copying every body; a generic plan does not.
 * Server CPU is the backend's own (`/proc/<pid>/stat`), so run it on the database's machine.
 *
 *   deno run -A bench/pg_plan_mode.ts [body bytes, default 100000] [batches, default 150]
 *     [server, default postgres://postgres@127.0.0.1:5432]
 */
import { Buffer } from "node:buffer";
import pg from "pg";

const size = Number(Deno.args[0] ?? 100_000);
const batches = Number(Deno.args[1] ?? 150);
const server = Deno.args[2] ?? "postgres://postgres@127.0.0.1:5432";
const database = `fastmta_planmode_${Deno.pid}`;
const ROWS = 8;
const text = `insert into m (id, size, body) select id, size, body from unnest(` +
  `$1::varchar[], $2::int[], array[${
    Array.from({ length: 2 * ROWS }, (_, i) => `$${i + 3}::bytea`).join(", ")
  }]) as v(id, size, body) where v.id is not null`;
// Printable bytes that LZ4 cannot shrink much, like an attachment's base64.
const bodies = Array.from({ length: ROWS }, () => {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (Math.random() * 64 + 48) | 0;
  return b;
});

async function measure(mode: string): Promise<number> {
  const client = new pg.Client({
    connectionString: `${server}/${database}`,
    options: `-c plan_cache_mode=${mode}`,
  });
  await client.connect();
  try {
    await client.query("create table m (id varchar primary key, size int, body bytea)");
    await client.query("alter table m alter column body set compression lz4");
    const pid = (await client.query("select pg_backend_pid() as pid")).rows[0].pid;
    const cpu = () => {
      const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
      return (Number(fields[11]) + Number(fields[12])) / 100;
    };
    let k = 0;
    const batch = () => {
      const ids = Array.from({ length: ROWS }, () => `m${k++}`);
      const values = [ids, ids.map(() => size), ...bodies, ...Array(ROWS).fill(null)];
      return client.query({ name: "ins", text, values });
    };
    for (let i = 0; i < 10; i++) await batch(); // past the first custom plans
    const before = cpu();
    for (let i = 0; i < batches; i++) await batch();
    return (cpu() - before) / batches / ROWS * 1000;
  } finally {
    await client.query("drop table m").catch(() => {});
    await client.end();
  }
}

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

await admin(`create database ${database}`);
try {
  for (let round = 0; round < 2; round++) {
    for (const mode of ["force_custom_plan", "force_generic_plan"]) {
      const ms = await measure(mode);
      console.log(`${mode}: ${ms.toFixed(3)} ms of backend CPU per ${size}-byte row`);
    }
  }
} finally {
  await admin(`drop database if exists ${database} with (force)`);
}
