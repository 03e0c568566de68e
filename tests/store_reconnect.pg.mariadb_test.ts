/**
 * A database that goes away at run time: store calls fail with a clear error instead of
 * hanging, the change is logged once each way, and the store works again when the database is
 * back. Two ways to lose it without disturbing the shared servers: the server kills our
 * connections (pg_terminate_backend / KILL), and a TCP proxy in front of it shuts down and
 * comes back on the same port.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  adminQuery,
  createTestDatabase,
  type TestDatabaseKind,
  testDatabaseKinds,
} from "./helpers/databases.ts";
import { startTcpProxy } from "./helpers/tcp_proxy.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore, StoreUnavailableError } from "../core/store/mod.ts";
import type { NewMessage } from "../core/contracts/mod.ts";

const SERVER_KINDS = testDatabaseKinds().filter((k) => k !== "sqlite3") as Exclude<
  TestDatabaseKind,
  "sqlite3"
>[];

let seq = 0;
function message(): NewMessage {
  seq++;
  return {
    id: `r${Date.now().toString(36)}${seq}`,
    sender: "s@example.test",
    recipients: [`r${seq}@x.test`],
    channel: "smtp",
    clientIp: null,
    receivedAt: Date.now(),
    body: new TextEncoder().encode(`body ${seq}`),
  };
}

/** Terminates every server connection to database `name` except the admin's own. */
async function killConnections(kind: "postgres" | "mysql", name: string): Promise<number> {
  if (kind === "postgres") {
    const rows = await adminQuery(
      "postgres",
      `select pg_terminate_backend(pid) as killed from pg_stat_activity
        where datname = '${name}' and pid <> pg_backend_pid()`,
    );
    return rows.length;
  }
  const rows = await adminQuery(
    "mysql",
    `select id from information_schema.processlist where db = '${name}'`,
  );
  for (const row of rows) {
    await adminQuery("mysql", `kill ${Number(row.id)}`).catch(() => {});
  }
  return rows.length;
}

/** Retries `fn` until it succeeds (for at most `ms`); returns the errors seen on the way. */
async function untilOk<T>(
  fn: () => Promise<T>,
  ms = 15_000,
): Promise<{ value: T; errors: Error[] }> {
  const errors: Error[] = [];
  const deadline = Date.now() + ms;
  while (true) {
    try {
      return { value: await fn(), errors };
    } catch (error) {
      errors.push(error as Error);
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Fails unless `promise` settles within `ms` (a store call must never hang). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

for (const kind of SERVER_KINDS) {
  Deno.test(`reconnect [${kind}]: the server kills every connection; the store carries on`, async () => {
    const db = await createTestDatabase(kind);
    const lines: string[] = [];
    const store = await openStore(db.config({ database: { pool_size: 4 } }), "deliver", {
      log: (line) => lines.push(line),
    });
    try {
      await store.migrate();
      // Open several pooled connections, then have the server kill them all.
      await Promise.all(Array.from({ length: 4 }, () => store.insertMessages([message()])));
      const killed = await killConnections(kind, db.name);
      assert(killed >= 1, "no connection to kill");

      // Every call answers (quickly), and within a short time calls work again.
      const first = await within(
        15_000,
        store.insertMessages([message()]).then(() => null, (e) => e),
      );
      if (first) {
        assert(first instanceof StoreUnavailableError, `unexpected error: ${first}`);
        assertMatch(first.message, /^Cannot reach the database \(/);
      }
      const { errors } = await untilOk(() => within(15_000, store.insertMessages([message()])));
      assert(errors.every((e) => e instanceof StoreUnavailableError), String(errors[0]));
      const { value: counts } = await untilOk(() => store.counts(Date.now()));
      // 4 before the kill, the first call's message unless it was refused, and one after.
      assert(counts.queued >= (first ? 5 : 6), `${JSON.stringify(counts)}, first call: ${first}`);
      assertEquals(store.health().ok, true);

      // Killed inside a transaction, between two statements: the transaction fails (it must
      // not crash the process, as an unheard driver error event would), and the store goes on.
      const inTransaction = await store.db.transaction().execute(async (trx) => {
        await trx.selectFrom("queue").select("id").execute();
        await killConnections(kind, db.name);
        await new Promise((r) => setTimeout(r, 300));
        await trx.selectFrom("queue").select("id").execute();
      }).then(() => null, (e) => e);
      assert(inTransaction instanceof Error, "the transaction survived its connection");
      await untilOk(() => store.insertMessages([message()]));
      await new Promise((r) => setTimeout(r, 300)); // late driver events would surface here

      if (first || errors.length > 0) {
        assert(lines.some((l) => /database unavailable/.test(l)), lines.join("\n"));
        assert(lines.some((l) => /reachable again/.test(l)), lines.join("\n"));
      }
      console.log(
        `  ${kind}: killed ${killed} connections; first call ${
          first ? `failed: ${first.message.slice(0, 120)}` : "succeeded"
        }; ${errors.length} more failures before recovery`,
      );
    } finally {
      await store.close();
      await db.drop();
    }
  });

  Deno.test(`reconnect [${kind}]: the database goes away and comes back`, async () => {
    const db = await createTestDatabase(kind);
    const target = kind === "postgres" ? 5432 : 3306;
    let proxy = await startTcpProxy({ targetPort: target });
    const port = proxy.port;
    const connection = kind === "postgres"
      ? `postgres://postgres@127.0.0.1:${port}/${db.name}?connect_timeout=3`
      : `root@tcp(127.0.0.1:${port})/${db.name}?timeout=3s`;
    const lines: string[] = [];
    let store: SqlStore | null = null;
    try {
      const config = parseConfig({
        data_dir: "/tmp",
        database: { driver: kind, connection, pool_size: 3 },
      });
      store = await openStore(config, "accept", {
        log: (line) => lines.push(line),
        monitor: { backoffMinMs: 100, backoffMaxMs: 400, timeoutMs: 10_000 },
      });
      await store.migrate();
      await store.insertMessages([message()]);

      await proxy.close(); // the database is gone: listener closed, connections cut
      const started = Date.now();
      const down = await within(
        15_000,
        store.insertMessages([message()]).then(() => null, (e) => e),
      );
      assert(down instanceof StoreUnavailableError, `expected a failure, got ${down}`);
      console.log(`  ${kind}: failed after ${Date.now() - started} ms: ${down.message}`);
      assertEquals(store.health().ok, false);
      assert(lines.some((l) => /database unavailable/.test(l)), lines.join("\n"));
      // While down, calls keep failing fast (backoff), never hanging.
      for (let i = 0; i < 5; i++) {
        const e = await within(15_000, store.counts(Date.now()).then(() => null, (e) => e));
        assert(e instanceof StoreUnavailableError, `expected a failure, got ${e}`);
        await new Promise((r) => setTimeout(r, 150));
      }
      assertEquals(lines.filter((l) => /database unavailable/.test(l)).length, 1, "logged once");

      proxy = await startTcpProxy({ targetPort: target, port }); // back
      const { value: counts } = await untilOk(async () => {
        await store!.insertMessages([message()]);
        return await store!.counts(Date.now());
      });
      assertEquals(counts.queued, 2);
      assertEquals(store.health().ok, true);
      assert(lines.some((l) => /reachable again/.test(l)), lines.join("\n"));
    } finally {
      await store?.close();
      await proxy.close();
      await db.drop();
    }
  });
}
