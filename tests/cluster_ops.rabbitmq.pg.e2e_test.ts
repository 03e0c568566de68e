/**
 * Distributed mode end to end, the operations side: the inject queue (valid messages delivered, a
 * malformed one dead-lettered), a config change live on every node, and a node whose broker is
 * unreachable answering 4xx. The load and failure tests are in cluster.rabbitmq.pg.e2e_test.ts.
 */
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN as DOMAIN } from "./helpers/e2e_fixture.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import {
  adminApi,
  makeServerConfig,
  runCli,
  sendWithSwaks,
  type ServerProcess,
  startServer,
} from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startCluster } from "./helpers/cluster_fixture.ts";

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
      const { body } = await adminApi<{ nodes: { details: { config_version: number } }[] }>(
        c.servers[0],
        "/api/v1/nodes",
      );
      return body.nodes.length === 2 &&
        body.nodes.every((n) => n.details.config_version === version);
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
