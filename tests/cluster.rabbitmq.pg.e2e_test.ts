/**
 * Distributed mode end to end: two server processes share one RabbitMQ queue (a vhost of their
 * own) and one database (PostgreSQL; SQLite only if PostgreSQL is unreachable), take mail over
 * SMTP (Python smtplib) and the inject queue, and deliver to one SMTP sink through a loopback DNS
 * server. Then the failures: kill -9 of a node and a cut of every broker connection in the middle
 * of the load. Lost must be 0; duplicates are counted and reported (at-least-once). And a
 * cluster-wide connection limit that holds for both nodes together.
 */
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import pg from "pg";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN as DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import { rabbitmqctl, type TestVhost } from "./helpers/rabbitmq.ts";
import {
  adminApi,
  makeServerConfig,
  runCli,
  sendWithSwaks,
  type ServerConfig,
  type ServerProcess,
  startServer,
} from "./helpers/server_process.ts";
import type { SmtpSink, SmtpSinkOptions } from "./helpers/smtp_sink.ts";
import { countSubjects, type SmtpLoadResult, startSmtpLoad } from "./helpers/smtp_load.ts";
import { waitUntil } from "./helpers/wait.ts";

const NODES = ["node-a", "node-b"];

interface Cluster extends AsyncDisposable {
  servers: ServerProcess[];
  configs: ServerConfig[];
  sink: SmtpSink;
  vhost: TestVhost;
  /** "postgres" (or "sqlite3" where PostgreSQL is unreachable). */
  database: string;
  /** Its `database` config section. */
  databaseConfig: { driver: string; connection: string };
  /** Prints every server's output (call when a test fails). */
  dump(): void;
}

async function startCluster(
  options: {
    nodes?: number;
    tweak?: (config: ServerConfig, index: number) => void;
    sinkReply?: SmtpSinkOptions["reply"];
  } = {},
): Promise<Cluster> {
  const e2e = await startE2eFixture({
    prefix: "fastmta-cluster-",
    distributed: true,
    sinkReply: options.sinkReply,
  });
  try {
    const configs = NODES.slice(0, options.nodes ?? NODES.length).map((id, i) => {
      // Each node sends from its own address: the sink sees which node delivered.
      const config = e2e.nodeConfig({
        id,
        outboundIps: [{ ip: `127.0.0.${11 + i}`, hostname: `${id}.fastmta.test` }],
      });
      config.name = `test ${id}`;
      config.cluster = { heartbeat_interval: "300ms", node_timeout: "3s", config_poll: "30s" };
      options.tweak?.(config, i);
      return config;
    });
    const servers: ServerProcess[] = [];
    for (const config of configs) servers.push(await e2e.start(config));
    return {
      servers,
      configs,
      sink: e2e.sink,
      vhost: e2e.vhost!,
      database: e2e.database!.kind,
      databaseConfig: e2e.database!.config,
      dump: e2e.dump,
      [Symbol.asyncDispose]: () => e2e[Symbol.asyncDispose](),
    };
  } catch (error) {
    e2e.dump();
    await e2e[Symbol.asyncDispose]();
    throw error;
  }
}

/** Waits until every accepted subject reached the sink; returns per-subject counts. */
async function waitAllDelivered(
  sink: SmtpSink,
  accepted: Map<string, string>,
  prefix: string,
  timeoutMs = 120_000,
): Promise<Map<string, number>> {
  let counts = new Map<string, number>();
  let missing = accepted.size;
  try {
    await waitUntil(() => {
      if (sink.messages.length < accepted.size) return false;
      counts = countSubjects(sink.messages.map((m) => m.text()), prefix);
      missing = [...accepted.keys()].filter((s) => !counts.has(s)).length;
      return missing === 0;
    }, { timeoutMs, intervalMs: 200, message: "every accepted message at the sink" });
  } catch (error) {
    throw new Error(
      `${
        (error as Error).message
      }: ${sink.messages.length} at the sink, ${missing} of ${accepted.size} accepted missing`,
    );
  }
  return counts;
}

function report(name: string, load: SmtpLoadResult, counts: Map<string, number>, c: Cluster) {
  const { sink } = c;
  const duplicates = [...counts.values()].filter((n) => n > 1).length;
  const byNode = new Map<string, number>();
  for (const m of sink.messages) {
    byNode.set(m.remoteAddress, (byNode.get(m.remoteAddress) ?? 0) + 1);
  }
  console.log(
    `${name} (${c.database}): accepted ${load.accepted.size} in ${load.elapsedMs} ms, delivered ${counts.size}` +
      ` (lost ${[...load.accepted.keys()].filter((s) => !counts.has(s)).length},` +
      ` duplicates ${duplicates}), 4xx ${load.temporaryFailures},` +
      ` connection errors ${load.connectionErrors}, by source ${JSON.stringify([...byNode])}`,
  );
  return duplicates;
}

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

Deno.test("inject queue: valid messages delivered, a malformed one dead-lettered", async () => {
  await using c = await startCluster({ nodes: 1 });
  try {
    const conn = await amqp.connect(c.vhost.url);
    try {
      const ch = await conn.createConfirmChannel();
      const publish = (body: unknown) =>
        ch.sendToQueue(
          "fastmta.inject",
          Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
          { persistent: true, contentType: "application/json" },
        );
      publish({
        from: "app@origin.test",
        to: [`raw@${DOMAIN}`],
        raw: "From: app@origin.test\r\nTo: raw@dest.test\r\nSubject: inject raw\r\n\r\nHello.\r\n",
      });
      publish({
        from: "app@origin.test",
        to: [`structured@${DOMAIN}`],
        subject: "inject structured ✓",
        text: "Plain part.",
        html: "<p>HTML part.</p>",
        headers: { "X-Campaign": "c1" },
        priority: 0,
        metadata: { tenant: "t1" },
      });
      publish("{ not json");
      publish({ from: "app@origin.test", to: [], raw: "x" });
      await ch.waitForConfirms();

      const received = await c.sink.waitForMessages(2, 30_000);
      const raw = received.find((m) => m.rcptTo[0] === `raw@${DOMAIN}`)!;
      assertMatch(raw.text(), /^Received: from fastmta\.inject \(AMQP\)[\s\S]*Subject: inject raw/);
      const structured = received.find((m) => m.rcptTo[0] === `structured@${DOMAIN}`)!;
      assertMatch(structured.text(), /Subject: =\?UTF-8\?B\?/);
      assertMatch(structured.text(), /X-Campaign: c1/);
      assertMatch(structured.text(), /multipart\/alternative/);

      // The two bad ones are in the dead-letter queue, each with its reason.
      const reasons: string[] = [];
      await waitUntil(async () => {
        const msg = await ch.get("fastmta.inject.dead", { noAck: true });
        if (msg) reasons.push(String(msg.properties.headers?.["x-fastmta-error"]));
        return reasons.length === 2;
      }, { message: "two dead-lettered inject messages" });
      assertMatch(reasons.join("\n"), /not UTF-8 JSON/);
      assertMatch(reasons.join("\n"), /invalid "to"/);
      await ch.close();
    } finally {
      await conn.close();
    }
  } catch (error) {
    c.dump();
    throw error;
  }
});

Deno.test("a config change on one node is live on every node within seconds", async () => {
  await using c = await startCluster();
  try {
    const send = (server: ServerProcess) =>
      sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@origin.test",
        to: [`a@${DOMAIN}`, `b@${DOMAIN}`, `c@${DOMAIN}`],
        data: "Subject: live config\r\n\r\nbody\r\n",
      });
    assertEquals((await send(c.servers[1])).code, 0, "3 recipients accepted before the change");
    const cli = await runCli([
      "config",
      "set",
      "smtp.max_recipients",
      "2",
      "--config",
      c.servers[0].configPath,
    ]);
    assertEquals(cli.code, 0, cli.stderr);
    const version = Number(cli.stdout.match(/version (\d+)/)![1]);
    const started = Date.now();
    // Every node reports the new version in its heartbeat once it applied it.
    await waitUntil(async () => {
      const { body } = await adminApi<{ nodes: { details: { configVersion: number } }[] }>(
        c.servers[0],
        "/api/v1/nodes",
      );
      return body.nodes.length === 2 &&
        body.nodes.every((n) => n.details.configVersion === version);
    }, { timeoutMs: 10_000, message: "both nodes on the new config version" });
    console.log(`config change live on both nodes after ${Date.now() - started} ms`);
    const refused = await send(c.servers[1]);
    assertMatch(refused.stdout, /452 4\.5\.3/);
    // Node-local keys are refused.
    const local = await runCli([
      "config",
      "set",
      "smtp.listen",
      '["127.0.0.1:1"]',
      "--config",
      c.servers[0].configPath,
    ]);
    assertEquals(local.code, 2);
  } catch (error) {
    c.dump();
    throw error;
  }
});

Deno.test("a node whose broker is unreachable answers 4xx instead of accepting", async () => {
  await using dir = tempDir("fastmta-nobroker-");
  const config = makeServerConfig({
    dataDir: dir.path,
    smtpPort: freePort(),
    adminPort: freePort(),
    dnsPort: freePort(),
    remotePort: freePort(),
  });
  config.rabbitmq = { host: "127.0.0.1", port: freePort(), reconnect_max: "500ms" };
  const server = await startServer({ config });
  try {
    const sent = await sendWithSwaks({
      server: server.smtpAddress,
      from: "sender@origin.test",
      to: [`a@${DOMAIN}`],
      data: "Subject: no broker\r\n\r\nbody\r\n",
    });
    assertMatch(sent.stdout, /451 4\.3\.0/);
    assertMatch(server.logs(), /cannot connect to amqp:/);
  } finally {
    await server.stop();
  }
});
