/**
 * `main.ts migrate` on every database: `--status` before and after, and two nodes migrating the
 * same fresh database at the same moment (both must succeed; the schema is applied once).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { createTestDatabase, testDatabaseKinds } from "./helpers/databases.ts";
import { runCli } from "./helpers/server_process.ts";
import { migrationsFor } from "../migrations/mod.ts";

for (const kind of testDatabaseKinds()) {
  Deno.test(`migrate [${kind}]: --status, then two concurrent migrate runs`, async () => {
    const db = await createTestDatabase(kind);
    const dir = await Deno.makeTempDir({ prefix: "fastmta-migrate-" });
    try {
      const configPath = `${dir}/config.json`;
      await Deno.writeTextFile(
        configPath,
        JSON.stringify({ data_dir: dir, database: { driver: kind, connection: db.connection } }),
      );
      const before = await runCli(["migrate", "--config", configPath, "--status"]);
      assertEquals(before.code, 0, before.stderr);
      assertMatch(before.stdout, /0001_queue\s+pending/);
      assertMatch(before.stdout, /0 applied, \d+ pending/);

      const runs = await Promise.all([
        runCli(["migrate", "--config", configPath]),
        runCli(["migrate", "--config", configPath]),
      ]);
      for (const run of runs) assertEquals(run.code, 0, `${run.stdout}\n${run.stderr}`);
      const applied = runs.filter((r) => /applied: 0001_queue/.test(r.stdout));
      const upToDate = runs.filter((r) => /schema is up to date/.test(r.stdout));
      assertEquals([applied.length, upToDate.length], [1, 1], runs.map((r) => r.stdout).join());

      const after = await runCli(["migrate", "--config", configPath, "--status"]);
      assertEquals(after.code, 0, after.stderr);
      assertMatch(after.stdout, /0001_queue\s+applied \d{4}-\d\d-\d\dT/);
      assertMatch(after.stdout, /\d+ applied, 0 pending/);
    } finally {
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`migrate [${kind}]: four stores migrating at once apply the schema once`, async () => {
    const db = await createTestDatabase(kind);
    try {
      // SQLite connections block their thread while waiting for the write lock, so there the
      // stores take turns; server databases get four pools racing for the migration lock.
      const stores = await Promise.all(
        Array.from({ length: kind === "sqlite3" ? 1 : 4 }, () => db.open("admin")),
      );
      try {
        const results = await Promise.all(stores.map((s) => s.migrate()));
        assertEquals(results.flat(), Object.keys(migrationsFor(kind)));
        assert((await stores[0].migrationStatus()).every((m) => m.appliedAt !== null));
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    } finally {
      await db.drop();
    }
  });
}

Deno.test("migrate: a malformed connection string exits 2 naming the part", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fastmta-migrate-" });
  try {
    const configPath = `${dir}/config.json`;
    await Deno.writeTextFile(
      configPath,
      JSON.stringify({
        database: { driver: "postgres", connection: "host=myhost port=myport user=gorm dbname=g" },
      }),
    );
    const run = await runCli(["migrate", "--config", configPath]);
    assertEquals(run.code, 2);
    assertMatch(run.stderr, /Cannot parse "database\.connection": port "myport" is not a number/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
