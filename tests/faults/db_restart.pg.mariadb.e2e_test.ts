/**
 * Issue 18, the configured database restarted mid-load: a node on PostgreSQL or MariaDB reaches
 * it through a TCP proxy (tests/helpers/tcp_proxy.ts); in the middle of SMTP load the proxy is
 * closed (every connection cut, new ones refused: what a restart looks like from the node, without
 * touching the shared server), then opened again on the same port. While it is away SMTP answers
 * 4xx, never 250; afterwards the ledger balances.
 */
import { assert } from "../helpers/assert.ts";
import { createTestDatabase, testDatabaseKinds } from "../helpers/databases.ts";
import { E2E_DOMAIN, startE2eFixture } from "../helpers/e2e_fixture.ts";
import { startSmtpLoad } from "../helpers/smtp_load.ts";
import { startTcpProxy } from "../helpers/tcp_proxy.ts";
import { waitUntil } from "../helpers/wait.ts";
import { balance, describeLedger, waitDrained } from "./accounting.ts";
import { faultZones } from "./zones.ts";

// The server databases of FASTMTA_TEST_DATABASES (default: PostgreSQL and MariaDB).
for (const kind of testDatabaseKinds().filter((k) => k !== "sqlite3")) {
  Deno.test(`${kind} restarted mid-load: 4xx while away, nothing lost after`, async () => {
    await using db = await createTestDatabase(kind);
    const target = kind === "postgres" ? 5432 : 3306;
    let proxy = await startTcpProxy({ targetPort: target });
    const port = proxy.port;
    await using e2e = await startE2eFixture({ prefix: `fastmta-dbrestart-`, zones: faultZones });
    const config = e2e.nodeConfig();
    config.database = {
      driver: kind,
      connection: kind === "postgres"
        ? `postgres://postgres@127.0.0.1:${port}/${db.name}?connect_timeout=3`
        : `root@tcp(127.0.0.1:${port})/${db.name}?timeout=3s`,
    };
    // The default lease time (10 minutes): a lease granted while the connection was being cut
    // (the answer lost) must be given back once it returns (core/queue/lost_leases.ts), or
    // the drain below would wait for the lease to end.
    const configPath = await e2e.writeConfig(config);
    const server = await e2e.start(config);
    const load = startSmtpLoad({
      servers: [server.smtpAddress],
      count: 1_000_000,
      connections: 4,
      to: `r@${E2E_DOMAIN}`,
      prefix: "d",
    });
    try {
      await waitUntil(() => load.acceptedCount >= 50, { timeoutMs: 60_000, message: "load" });
      await proxy.close(); // the database goes away
      await waitUntil(() => /database unavailable|Cannot reach the database/.test(server.logs()), {
        timeoutMs: 30_000,
        message: "the node noticed",
      });
      const acceptedWhileAway = load.acceptedCount;
      proxy = await startTcpProxy({ targetPort: target, port }); // and comes back
      // The reconnect backs off; on a busy machine it can take a while (seen > 60 s under load).
      await waitUntil(() => load.acceptedCount >= acceptedWhileAway + 50, {
        timeoutMs: 180_000,
        message: "load accepted again after the restart",
      });
      load.stop();
      const result = await load.result;
      await waitDrained(configPath);
      const ledger = balance(result.accepted, e2e.sink.messages, "d");
      console.log(
        describeLedger(`${kind} restart`, ledger) + `; 4xx seen ${result.temporaryFailures}`,
      );
      assert(ledger.balanced, describeLedger("unbalanced", ledger));
    } catch (error) {
      e2e.dump();
      throw error;
    } finally {
      load.stop();
      await load.result.catch(() => {});
      await server.stop();
      await proxy.close();
    }
  });
}
