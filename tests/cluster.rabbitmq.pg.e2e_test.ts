/**
 * Distributed mode end to end: two server processes share one RabbitMQ queue (a vhost of their
 * own) and one database (PostgreSQL; SQLite only if PostgreSQL is unreachable), take mail over
 * SMTP (Python smtplib) and the inject queue, and deliver to one SMTP sink through a loopback DNS
 * server. Then the failures: kill -9 of a node and a cut of every broker connection in the middle
 * of the load. Lost must be 0; duplicates are counted and reported (at-least-once). And a
 * cluster-wide connection limit that holds for both nodes together. The inject queue, live
 * config and an unreachable broker are in cluster_ops.rabbitmq.pg.e2e_test.ts.
 */
import pg from "pg";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN as DOMAIN } from "./helpers/e2e_fixture.ts";
import { rabbitmqctl } from "./helpers/rabbitmq.ts";
import { adminApi, runCli } from "./helpers/server_process.ts";
import { startSmtpLoad } from "./helpers/smtp_load.ts";
import { waitUntil } from "./helpers/wait.ts";
import { report, startCluster, waitAllDelivered } from "./helpers/cluster_fixture.ts";

Deno.test("two nodes share one queue: 2 000 messages delivered, none lost, none twice", async () => {
  await using c = await startCluster();
  try {
    const load = startSmtpLoad({
      servers: c.servers.map((s) => s.smtpAddress),
      count: 2_000,
      connections: 8,
      to: `rcpt@${DOMAIN}`,
      prefix: "n",
    });
    const result = await load.result;
    assertEquals(result.accepted.size, 2_000);
    const started = Date.now();
    const counts = await waitAllDelivered(c.sink, result.accepted, "n");
    const duplicates = report("normal", result, counts, c);
    console.log(`  all at the sink ${Date.now() - started} ms after the last accept`);
    assertEquals(duplicates, 0);
    // Both nodes delivered (each from its own source address).
    const sources = new Set(c.sink.messages.map((m) => m.remoteAddress));
    assertEquals([...sources].sort(), ["127.0.0.11", "127.0.0.12"]);

    // Both nodes are registered and live, seen from either node and from the CLI.
    const { body } = await adminApi<{ nodes: { id: string; live: boolean }[] }>(
      c.servers[1],
      "/api/v1/nodes",
    );
    assertEquals(body.nodes.map((n) => [n.id, n.live]).sort(), [["node-a", true], [
      "node-b",
      true,
    ]]);
    const cli = await runCli(["nodes", "--config", c.servers[0].configPath]);
    assertEquals(cli.code, 0, cli.stderr);
    assertMatch(cli.stdout, /node-a\s+test node-a\s+live/);
    assertMatch(cli.stdout, /node-b\s+test node-b\s+live/);
  } catch (error) {
    c.dump();
    throw error;
  }
});

Deno.test("kill -9 of one node in the middle of the load: nothing lost", async () => {
  await using c = await startCluster();
  try {
    let killedAt = -1;
    const load = startSmtpLoad({
      servers: c.servers.map((s) => s.smtpAddress),
      count: 2_000,
      connections: 8,
      to: `rcpt@${DOMAIN}`,
      prefix: "k",
      onProgress: (accepted) => {
        if (killedAt < 0 && accepted >= 700) {
          killedAt = accepted;
          c.servers[1].kill("SIGKILL");
        }
      },
    });
    const result = await load.result;
    assert(killedAt > 0 && result.accepted.size > killedAt, "killed in the middle");
    const counts = await waitAllDelivered(c.sink, result.accepted, "k");
    report(`kill -9 after ${killedAt}`, result, counts, c);
  } catch (error) {
    c.dump();
    throw error;
  }
});

Deno.test("a cluster-wide connection limit holds for both nodes together", async () => {
  const LIMIT = 2;
  // SMTP sessions open at the sink, from the greeting to QUIT. (A connection the pool closes
  // gives its cluster slot back only after QUIT and the peer's close, so this count is exact;
  // the socket count can lag by the moment the sink takes to see the close.)
  let open = 0;
  let maxOpen = 0;
  await using c = await startCluster({
    sinkReply: ({ command }) => {
      if (command === "CONNECT") maxOpen = Math.max(maxOpen, ++open);
      if (command === "QUIT") open--;
      // A server that takes a moment per message keeps both nodes wanting more connections.
      if (command === "DATA_END") return new Promise((r) => setTimeout(() => r(undefined), 5));
      return undefined;
    },
    tweak: (config) => {
      // Each node alone could open 4 (8 together); the cluster may open 2. Connections are
      // replaced every 25 messages, so slots change hands between the nodes all the time.
      (config.delivery as Record<string, unknown>).shaping = {
        [DOMAIN]: {
          max_connections: 4,
          cluster_max_connections: LIMIT,
          max_messages_per_connection: 25,
          idle_timeout: "1s",
          local_limit_delay: "500ms",
        },
      };
    },
  });
  if (c.database !== "postgres") {
    console.log("skipped: cluster-wide limits need a server database (PostgreSQL unreachable)");
    return;
  }
  const slots = async () => {
    const client = new pg.Client({ connectionString: c.databaseConfig.connection });
    await client.connect();
    try {
      return Number((await client.query("select count(*) as n from cluster_slots")).rows[0].n);
    } finally {
      await client.end();
    }
  };
  try {
    const load = startSmtpLoad({
      servers: c.servers.map((s) => s.smtpAddress),
      count: 300,
      connections: 8,
      to: `rcpt@${DOMAIN}`,
      prefix: "s",
    });
    const result = await load.result;
    assertEquals(result.accepted.size, 300);
    const counts = await waitAllDelivered(c.sink, result.accepted, "s");
    report("cluster limit", result, counts, c);
    console.log(
      `  at most ${maxOpen} SMTP sessions open at once (limit ${LIMIT}), ${c.sink.connections}` +
        ` connections, at most ${c.sink.maxConcurrentConnections} sockets at once`,
    );
    assert(maxOpen <= LIMIT, `${maxOpen} sessions open at once, limit ${LIMIT}`);
    assertEquals([...counts.values()].filter((n) => n > 1).length, 0, "no duplicates");
    // Idle connections close after 1 s and give their slots back.
    await waitUntil(async () => await slots() === 0, {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: "every cluster slot given back",
    });
    const logs = c.servers.map((s) => s.logs()).join("\n");
    assert(!/cannot give back cluster slot|lost connection slot/.test(logs), logs);
  } catch (error) {
    c.dump();
    throw error;
  }
});

Deno.test("every broker connection cut in the middle of the load: nothing lost", async () => {
  await using c = await startCluster();
  try {
    let cut: Promise<string> | null = null;
    let cutDone = false;
    let acceptedAtCut = 0;
    const load = startSmtpLoad({
      servers: c.servers.map((s) => s.smtpAddress),
      count: 20_000,
      connections: 4,
      to: `rcpt@${DOMAIN}`,
      prefix: "c",
      onProgress: (accepted) => {
        if (cut === null && accepted >= 200) {
          cut = rabbitmqctl("close_all_connections", "-p", c.vhost.name, "test cut").then((out) => {
            cutDone = true;
            acceptedAtCut = accepted;
            return out;
          });
        }
        // Keep sending until well after the cut: load before, during and after it.
        if (cutDone && accepted >= acceptedAtCut + 200) load.stop();
      },
    });
    const result = await load.result;
    await cut;
    const counts = await waitAllDelivered(c.sink, result.accepted, "c");
    report("broker cut", result, counts, c);
    const logs = c.servers.map((s) => s.logs()).join("\n");
    assertMatch(logs, /broker connection lost/);
  } catch (error) {
    c.dump();
    throw error;
  }
});
