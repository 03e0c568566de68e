/**
 * Fresh databases for tests: each call creates its own uniquely named database on the local
 * PostgreSQL (127.0.0.1:5432) or MariaDB (127.0.0.1:3306), or a temporary SQLite file, and
 * `drop()` removes it, so runs and parallel tests never see each other's rows.
 *
 * `FASTMTA_TEST_DATABASES` (comma-separated: sqlite3, postgres, mysql) narrows which kinds the
 * store tests run on; all three by default (CI starts both servers).
 *
 * @module
 */
import pg from "pg";
import { createConnection } from "mysql2/promise";
import { type Config, parseConfig } from "../../core/config/mod.ts";
import { openStore, type SqlStore, type StoreRole } from "../../core/store/mod.ts";

/** A database kind the store runs on in tests. */
export type TestDatabaseKind = "sqlite3" | "postgres" | "mysql";

/** Where the test servers are (the CI machines' local services). */
export const PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test";
/** MariaDB as root without a password, the `test` database. */
export const MYSQL_ADMIN = { host: "127.0.0.1", port: 3306, user: "root", database: "test" };

/** One throw-away database. */
export interface TestDatabase extends AsyncDisposable {
  kind: TestDatabaseKind;
  /** Database (or SQLite file) name. */
  name: string;
  /** `database.driver` for the config. */
  driver: TestDatabaseKind;
  /** `database.connection` for the config. */
  connection: string;
  /** A config for this database (data_dir in a temp directory). */
  config(extra?: Record<string, unknown>): Config;
  /** Opens a store on it (close it before `drop`). */
  open(role?: StoreRole, poolSize?: number): Promise<SqlStore>;
  /** Removes the database. */
  drop(): Promise<void>;
}

/** The kinds selected by FASTMTA_TEST_DATABASES (default: all). */
export function testDatabaseKinds(): TestDatabaseKind[] {
  const all: TestDatabaseKind[] = ["sqlite3", "postgres", "mysql"];
  const wanted = Deno.env.get("FASTMTA_TEST_DATABASES");
  if (!wanted) return all;
  const names = wanted.split(",").map((s) => s.trim());
  return all.filter((kind) => names.includes(kind));
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `fastmta_t_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Runs one statement as the admin user on the server of `kind`. */
export async function adminQuery(
  kind: "postgres" | "mysql",
  statement: string,
): Promise<Record<string, unknown>[]> {
  if (kind === "postgres") {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    client.on("error", () => {});
    await client.connect();
    try {
      return (await client.query(statement)).rows;
    } finally {
      await client.end();
    }
  }
  const connection = await createConnection(MYSQL_ADMIN);
  try {
    const [rows] = await connection.query(statement);
    return Array.isArray(rows) ? rows as Record<string, unknown>[] : [];
  } finally {
    await connection.end();
  }
}

/** Creates a fresh database of `kind`. */
export async function createTestDatabase(kind: TestDatabaseKind): Promise<TestDatabase> {
  const name = randomName();
  let connection: string;
  let dropper: () => Promise<void>;
  let dataDir: string;
  if (kind === "sqlite3") {
    dataDir = await Deno.makeTempDir({ prefix: "fastmta-db-" });
    connection = `${dataDir}/${name}.db`;
    dropper = () => Deno.remove(dataDir, { recursive: true });
  } else {
    dataDir = await Deno.makeTempDir({ prefix: "fastmta-db-" });
    if (kind === "postgres") {
      await adminQuery("postgres", `create database ${name}`);
      connection = `postgres://postgres@127.0.0.1:5432/${name}`;
      dropper = async () => {
        await adminQuery("postgres", `drop database if exists ${name} with (force)`);
      };
    } else {
      await adminQuery("mysql", `create database ${name} character set utf8mb4`);
      connection = `root@tcp(127.0.0.1:3306)/${name}?charset=utf8mb4`;
      dropper = async () => {
        await adminQuery("mysql", `drop database if exists ${name}`);
      };
    }
    const dropServer = dropper;
    dropper = async () => {
      await dropServer();
      await Deno.remove(dataDir, { recursive: true });
    };
  }
  let dropped = false;
  const config = (extra: Record<string, unknown> = {}) =>
    parseConfig({
      id: "test-node",
      data_dir: dataDir,
      ...extra,
      database: {
        driver: kind,
        connection,
        ...(extra.database as Record<string, unknown> | undefined),
      },
    });
  const db: TestDatabase = {
    kind,
    name,
    driver: kind,
    connection,
    config,
    open: (role = "deliver", poolSize = 5) =>
      openStore(config({ database: { pool_size: poolSize } }), role, { log: () => {} }),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await dropper();
    },
    [Symbol.asyncDispose]: () => db.drop(),
  };
  return db;
}
