/**
 * fastmta in distributed mode for the bench (`--systems fastmta-distributed`): one node on the
 * loopback RabbitMQ and PostgreSQL, with a vhost and a database of its own per run (created before
 * the start, dropped after the stop), and the counters that say where the extra cost goes:
 * CPU of our PostgreSQL backends, of the whole postgres and RabbitMQ processes (shared with other
 * work on the machine), PostgreSQL's transaction and row counts for our database, the broker's
 * frame and byte counts on our connections, and fastmta's own CPU by thread.
 */
import { CLK_TCK, processTree, readStat, treeCpuSeconds } from "./procstat.ts";
import { run } from "./util.ts";
import { logOffset, statementCounts, statementsWanted } from "./pg_statements.ts";

/** Where the bench's distributed node connects (the machine's loopback services). */
export const PG_ADMIN = { host: "127.0.0.1", port: 5432, user: "postgres", db: "test" };
/** RabbitMQ on loopback (guest/guest). */
export const AMQP = { host: "127.0.0.1", port: 5672 };

let counter = 0;

async function psql(db: string, sql: string): Promise<string> {
  const res = await run("psql", [
    ...["-h", PG_ADMIN.host, "-p", String(PG_ADMIN.port), "-U", PG_ADMIN.user, "-d", db],
    ...["-X", "-At", "-F", " ", "-c", sql],
  ], { timeoutMs: 60_000 });
  if (res.code !== 0) throw new Error(`psql: ${res.stderr.trim()}`);
  return res.stdout.trim();
}

async function rabbitmqctl(args: string[]): Promise<string> {
  const res = await run("rabbitmqctl", args, { timeoutMs: 120_000 });
  if (res.code !== 0) throw new Error(`rabbitmqctl ${args[0]}: ${res.stderr.trim()}`);
  return res.stdout;
}

/** A database and a vhost for one run. */
export interface Backends {
  /** PostgreSQL database name. */
  db: string;
  /** RabbitMQ vhost. */
  vhost: string;
  /** The `database` and `rabbitmq` config sections. */
  config: Record<string, unknown>;
  /** With FASTMTA_BENCH_PG_STATEMENTS=1: where the server log stood at creation
   * (bench/pg_statements.ts). */
  statements?: { offset: number };
  /** Drops both (bounded, errors ignored). */
  drop(): Promise<void>;
}

/** Creates an empty database and vhost (names carry our pid, so parallel benches never share). */
export async function createBackends(): Promise<Backends> {
  const name = `fastmta_bench_${Deno.pid}_${++counter}`;
  await psql(PG_ADMIN.db, `create database ${name}`);
  const actor = `<<"fastmta-bench">>`;
  await rabbitmqctl([
    "eval",
    `ok = rabbit_vhost:add(<<"${name}">>, ${actor}), ` +
    `ok = rabbit_auth_backend_internal:set_permissions(<<"guest">>, <<"${name}">>, ` +
    `<<".*">>, <<".*">>, <<".*">>, ${actor}), ok.`,
  ]);
  let statements;
  if (statementsWanted()) {
    // Only this throwaway database's sessions log their statements.
    await psql(PG_ADMIN.db, `alter database ${name} set log_min_duration_statement = 0`);
    await psql(PG_ADMIN.db, `alter database ${name} set log_parameter_max_length = 0`);
    statements = { offset: logOffset() };
  }
  return {
    statements,
    db: name,
    vhost: name,
    config: {
      database: {
        driver: "postgres",
        connection: `postgres://${PG_ADMIN.user}@${PG_ADMIN.host}:${PG_ADMIN.port}/${name}`,
      },
      rabbitmq: { host: AMQP.host, port: AMQP.port, virtual_host: name },
    },
    async drop() {
      await psql(PG_ADMIN.db, `drop database if exists ${name} with (force)`).catch(() => {});
      await rabbitmqctl(["delete_vhost", name]).catch(() => {});
    },
  };
}

/** The first process whose command line matches (rabbitmqctl's own VMs excluded). */
function pidOf(pattern: RegExp): number {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).replaceAll("\0", " ");
      if (pattern.test(cmd) && !cmd.includes("rabbitmqctl")) return Number(entry.name);
    } catch { /* gone */ }
  }
  return 0;
}

function cpuOf(pid: number): number {
  const s = pid ? readStat(pid) : undefined;
  return s ? (s.utime + s.stime) / CLK_TCK : 0;
}

/** CPU seconds of fastmta's threads, summed by thread name (`/proc/<pid>/task/<tid>/stat`). */
export function threadCpu(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
        const close = text.lastIndexOf(")");
        const comm = text.slice(text.indexOf("(") + 1, close);
        const f = text.slice(close + 2).split(" ");
        const key = `fastmta thread ${comm.replace(/[0-9]+$/, "N")} CPU s`;
        out[key] = (out[key] ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK;
      } catch { /* thread ended */ }
    }
  } catch { /* process gone */ }
  try {
    // Bytes the process (all its threads) caused to be written to storage: WAL, checkpoints,
    // spool segments (issue 19 compares body_spool settings by it).
    const io = Deno.readTextFileSync(`/proc/${pid}/io`);
    const m = io.match(/^write_bytes: (\d+)$/m);
    if (m) out["fastmta process write_bytes"] = Number(m[1]);
  } catch { /* process gone */ }
  return out;
}

/**
 * Absolute counters now; the bench subtracts a snapshot before the load from one after delivery.
 * PostgreSQL's statistics reach pg_stat_database when a backend reports (at most every second),
 * so this waits a little first.
 */
export async function componentStats(b: Backends, fastmtaPids: number[]) {
  await new Promise((r) => setTimeout(r, 1_500));
  const stats: Record<string, number> = {};
  const row = await psql(
    PG_ADMIN.db,
    `select xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched ` +
      `from pg_stat_database where datname = '${b.db}'`,
  );
  const [commits, ins, upd, del, ret, fetched] = row.split(" ").map(Number);
  Object.assign(stats, {
    "pg commits": commits,
    "pg rows inserted": ins,
    "pg rows updated": upd,
    "pg rows deleted": del,
    "pg rows read": ret + fetched,
  });
  // which tables are read by sequential scan (the database is ours alone)
  const tables = await psql(
    b.db,
    `select relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), coalesce(idx_tup_fetch, 0), ` +
      `n_tup_upd, n_tup_hot_upd from pg_stat_user_tables`,
  );
  for (const line of tables.split("\n").filter(Boolean)) {
    const [rel, seqScans, seqRows, idxScans, idxRows, updated, hot] = line.split(" ");
    stats[`pg ${rel}: seq scans`] = Number(seqScans);
    stats[`pg ${rel}: rows by seq scan`] = Number(seqRows);
    stats[`pg ${rel}: index scans`] = Number(idxScans);
    stats[`pg ${rel}: rows by index`] = Number(idxRows);
    // A HOT update writes no index entries: an updated indexed column prevents it.
    stats[`pg ${rel}: rows updated`] = Number(updated);
    stats[`pg ${rel}: HOT updates`] = Number(hot);
  }
  const backends = (await psql(
    PG_ADMIN.db,
    `select pid from pg_stat_activity where datname = '${b.db}'`,
  )).split("\n").filter(Boolean).map(Number);
  stats["pg backends"] = backends.length;
  if (b.statements) {
    Object.assign(stats, await statementCounts(b.statements.offset, b.db));
  }
  stats["pg our backends CPU s"] = backends.reduce((sum, pid) => sum + cpuOf(pid), 0);
  const postmaster = pidOf(/postgres -D /);
  stats["pg all processes CPU s"] = postmaster ? treeCpuSeconds(processTree(postmaster)) : NaN;
  const conns = await rabbitmqctl([
    ...["list_connections", "-q", "--no-table-headers"],
    ...["vhost", "recv_cnt", "send_cnt", "recv_oct", "send_oct"],
  ]).catch(() => "");
  let recvCnt = 0, sendCnt = 0, recvOct = 0, sendOct = 0, n = 0;
  for (const line of conns.split("\n")) {
    const [vhost, rc, sc, ro, so] = line.trim().split(/\s+/);
    if (vhost !== b.vhost) continue;
    n++;
    recvCnt += Number(rc);
    sendCnt += Number(sc);
    recvOct += Number(ro);
    sendOct += Number(so);
  }
  Object.assign(stats, {
    "amqp connections": n,
    "amqp packets to broker": recvCnt,
    "amqp packets from broker": sendCnt,
    "amqp KB to broker": recvOct / 1024,
    "amqp KB from broker": sendOct / 1024,
  });
  stats["rabbitmq (beam.smp) CPU s"] = cpuOf(
    pidOf(/beam\.smp.*rabbit_mnesia|beam\.smp.*-s rabbit/),
  );
  for (const pid of fastmtaPids) {
    for (const [key, cpu] of Object.entries(threadCpu(pid))) stats[key] = (stats[key] ?? 0) + cpu;
  }
  return stats;
}
