/**
 * Issue 12, the node-restart stall: two nodes on RabbitMQ + PostgreSQL take steady SMTP load
 * while node A is killed with SIGKILL several times and restarted. Every message a server said
 * 250 for must reach the sink within the hold bound (docs/watchdog.md) while both nodes keep
 * running — node A is never stopped to flush what it holds — and no incarnation may log the
 * dispatch crash of the original bug (`Cannot read properties of undefined`) or a watchdog
 * report. Duplicates are allowed (at-least-once) and reported.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import { sharedDatabase, testVhost } from "./helpers/rabbitmq.ts";
import {
  makeServerConfig,
  type ServerConfig,
  type ServerProcess,
  startServer,
} from "./helpers/server_process.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { countSubjects, startSmtpLoad } from "./helpers/smtp_load.ts";
import { waitUntil } from "./helpers/wait.ts";

const DOMAIN = "dest.test";
const KILLS = 3;
const MESSAGES = 1_500;
/** `queue.lease_time` of both nodes: the hold bound is this plus one sweep (a quarter). */
const LEASE_TIME_MS = 20_000;
const HOLD_BOUND_MS = LEASE_TIME_MS + LEASE_TIME_MS / 4;

Deno.test("node A killed and restarted under load: every accepted message delivered within the bound", async () => {
  await using dir = tempDir("fastmta-restart-");
  const vhost = await testVhost();
  await using database = await sharedDatabase(dir.path);
  if (database.kind !== "postgres") {
    console.log("skipped: needs PostgreSQL (unreachable)");
    return;
  }
  // A sink that takes a moment per message keeps a backlog in the broker, so a restarted node
  // is handed units the moment it connects (the situation of the original stall).
  await using sink = await startSmtpSink({
    hostname: "127.0.0.1",
    port: 0,
    reply: ({ command }) =>
      command === "DATA_END" ? new Promise((r) => setTimeout(() => r(undefined), 20)) : undefined,
  });
  await using dns = await startDnsServer({
    zones: {
      [DOMAIN]: { MX: [{ preference: 10, exchange: `mx.${DOMAIN}` }] },
      [`mx.${DOMAIN}`]: { A: ["127.0.0.1"] },
    },
  });
  const configs: ServerConfig[] = ["node-a", "node-b"].map((id, i) => {
    const config = makeServerConfig({
      id,
      dataDir: `${dir.path}/${id}`,
      smtpPort: freePort(),
      adminPort: freePort(),
      dnsPort: dns.port,
      remotePort: sink.port,
      outboundIps: [{ ip: `127.0.0.${11 + i}`, hostname: `${id}.fastmta.test` }],
    });
    config.database = database.config;
    config.rabbitmq = { ...vhost.config, reconnect_max: "1s", prefetch: 40 };
    config.cluster = { heartbeat_interval: "300ms", node_timeout: "3s", config_poll: "30s" };
    config.queue = { lease_time: `${LEASE_TIME_MS}ms`, batch_size: 20 };
    (config.delivery as Record<string, unknown>).concurrency = 8;
    return config;
  });
  const incarnations: ServerProcess[] = [];
  const start = async (index: number) => {
    const server = await startServer({ config: configs[index] });
    incarnations.push(server);
    return server;
  };
  const servers = [await start(0), await start(1)];
  const logs = () => incarnations.map((s) => `--- pid ${s.pid} ---\n${s.logs()}`).join("\n");
  try {
    let kills = 0;
    let restarting: Promise<void> | null = null;
    const restarts: Promise<void>[] = [];
    const load = startSmtpLoad({
      servers: servers.map((s) => s.smtpAddress),
      count: MESSAGES,
      connections: 6,
      to: `rcpt@${DOMAIN}`,
      prefix: "r",
      onProgress: (accepted) => {
        // Kill A every few hundred accepts, once the previous incarnation is up again.
        if (restarting || kills >= KILLS || accepted < (kills + 1) * 300) return;
        kills++;
        restarting = (async () => {
          await servers[0].kill("SIGKILL");
          servers[0] = await start(0);
        })().finally(() => restarting = null);
        restarts.push(restarting);
      },
    });
    const result = await load.result;
    await Promise.all(restarts);
    const lastAccept = Date.now();
    assertEquals(kills, KILLS, `node A killed ${KILLS} times during the load`);
    const accepted = result.accepted.size;
    let counts = new Map<string, number>();
    let missing = accepted;
    try {
      await waitUntil(() => {
        counts = countSubjects(sink.messages.map((m) => m.text()), "r");
        missing = [...result.accepted.keys()].filter((s) => !counts.has(s)).length;
        return missing === 0;
      }, { timeoutMs: HOLD_BOUND_MS, intervalMs: 200, message: "every accepted message" });
    } catch (error) {
      throw new Error(
        `${(error as Error).message}: ${missing} of ${accepted} accepted not delivered ` +
          `${HOLD_BOUND_MS} ms after the last accept, both nodes running`,
      );
    }
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    console.log(
      `restart stall: ${accepted} accepted (4xx ${result.temporaryFailures}, connection errors ` +
        `${result.connectionErrors}), ${KILLS} kills of node A, all delivered ` +
        `${Date.now() - lastAccept} ms after the last accept, ${duplicates} duplicates`,
    );
    // Both nodes are still the running ones: nothing was flushed by stopping a node.
    assert(servers.every((s) => incarnations.includes(s)), "both nodes running");
    const text = logs();
    assert(!/Cannot read properties of undefined/.test(text), "no dispatch crash in any log");
    assert(!/watchdog:/.test(text), "no unit reported held past the bound");
  } catch (error) {
    console.error(logs());
    throw error;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
});
