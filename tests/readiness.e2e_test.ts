/**
 * `/readyz` and `/healthz` against a PostgreSQL of the test's own: ready with every check named,
 * 503 naming the database while that PostgreSQL is stopped (while `/healthz` stays 200: the
 * process is up), ready again once it is back. Nothing secret in either body.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startE2eFixture } from "./helpers/e2e_fixture.ts";
import { havePostgresBinaries, startOwnPostgres } from "./helpers/own_postgres.ts";
import { waitUntil } from "./helpers/wait.ts";
import { ReadySchema } from "../core/api/schemas.ts";

const PASSWORD = "readyz-db-secret-3f9a1c";

async function get(url: string) {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) };
}

Deno.test({
  name: "readyz: 503 naming the database while PostgreSQL is stopped, 200 after",
  ignore: !havePostgresBinaries(),
  async fn() {
    await using pg = await startOwnPostgres();
    await using e2e = await startE2eFixture({ prefix: "fastmta-readyz-" });
    const config = e2e.nodeConfig();
    config.database = { driver: "postgres", connection: pg.connection(PASSWORD) };
    const server = await e2e.start(config);
    const admin = server.adminUrl!;
    try {
      const ready = await waitUntil(async () => {
        const r = await get(`${admin}/readyz`);
        return r.status === 200 ? r : null;
      }, { timeoutMs: 30_000, message: "ready" });
      const body = ReadySchema.parse(ready.body);
      assertEquals(body.status, "ready");
      const names = body.checks.map((c) => c.name);
      for (const want of ["database", "queue", "data_dir"]) assert(names.includes(want), want);
      assert(names.some((n) => n.startsWith("listener smtp ")), names.join(", "));

      await pg.stop();
      const down = await waitUntil(async () => {
        const r = await get(`${admin}/readyz`);
        return r.status === 503 ? r : null;
      }, { timeoutMs: 30_000, message: "not ready while the database is stopped" });
      assertEquals(down.body.status, "not_ready");
      assert(down.body.not_ready.includes("database"), down.text);
      assert(!down.text.includes(PASSWORD), "the password is in /readyz");
      const health = await get(`${admin}/healthz`);
      assertEquals(health.status, 200, "the process is up");
      assert(!health.text.includes(PASSWORD), "the password is in /healthz");

      await pg.start();
      await waitUntil(async () => (await get(`${admin}/readyz`)).status === 200, {
        timeoutMs: 60_000,
        message: "ready again once the database is back",
      });
    } catch (error) {
      e2e.dump();
      throw error;
    }
  },
});
