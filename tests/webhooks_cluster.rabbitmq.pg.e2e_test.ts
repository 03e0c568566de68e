/**
 * Events in distributed mode (issue 16): two nodes on one RabbitMQ vhost and one PostgreSQL
 * database, one webhook. Both nodes accept and deliver; each event reaches the receiver once
 * (one node holds the webhook's lease and posts its batches for the cluster), and every event
 * is also published once to the events exchange for other consumers.
 */
import amqp from "amqplib";
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startWebhookReceiver } from "./helpers/webhook_receiver.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";

const WAIT_MS = 90_000;
const SECRET = "whsec-cluster-0123456789abcdef";
const EXCHANGE = "fastmta.events";
const MESSAGES = 20;

Deno.test("two nodes: each event reaches the webhook once and the exchange once", async () => {
  await using e2e = await startE2eFixture({
    prefix: "fastmta-webhooks-cluster-",
    distributed: true,
  });
  await using receiver = startWebhookReceiver(SECRET);
  // Every node opens the secrets sealed by any of them: one master key for the cluster.
  const env = {
    FASTMTA_DKIM_MASTER_KEY: btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))),
    ),
  };
  const configs = ["node-a", "node-b"].map((id, i) => {
    const config = e2e.nodeConfig({
      id,
      outboundIps: [{ ip: `127.0.0.${11 + i}`, hostname: `${id}.fastmta.test` }],
    });
    config.cluster = { heartbeat_interval: "300ms", node_timeout: "3s", config_poll: "30s" };
    config.events = {
      flush_interval: "50ms",
      accounting: { path: `${e2e.dir}/${id}/events.jsonl`, exchange: EXCHANGE },
      webhooks: { poll_interval: "100ms", retry_min: "200ms", retry_max: "1s" },
    };
    return config;
  });
  const conn = await amqp.connect(e2e.vhost!.url);
  try {
    const servers = [];
    for (const config of configs) servers.push(await e2e.start(config, { env }));
    const ch = await conn.createChannel();
    await ch.assertExchange(EXCHANGE, "topic", { durable: true });
    const { queue } = await ch.assertQueue("", { exclusive: true });
    await ch.bindQueue(queue, EXCHANGE, "#");
    const published: FastmtaEvent[] = [];
    await ch.consume(queue, (msg) => {
      if (msg) published.push(JSON.parse(Buffer.from(msg.content).toString()));
    }, { noAck: true });

    const configPath = await e2e.writeConfig(configs[0]);
    const added = await runCli(
      ["webhook", "add", receiver.url, "--events", "*", "--id", "c1", "--config", configPath],
      { stdin: `${SECRET}\n`, env },
    );
    assertEquals(added.code, 0, added.stderr);
    // Both hubs route by the webhooks they last read (every 100 ms): wait until a probe
    // accepted by each node arrives.
    for (const server of servers) {
      await waitUntil(async () => {
        const probe = await sendWithSwaks({
          server: server.smtpAddress,
          from: "sender@origin.test",
          to: [`probe@${E2E_DOMAIN}`],
          data: "Subject: probe\r\n\r\nHello.\r\n",
        });
        await waitUntil(() => receiver.events().some((e) => e.message_id === probe.queueId), {
          timeoutMs: 5_000,
        });
        return true;
      }, { timeoutMs: WAIT_MS, intervalMs: 100, message: "a probe through each node" });
    }

    const ids: string[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const sent = await sendWithSwaks({
        server: servers[i % 2].smtpAddress,
        from: "sender@origin.test",
        to: [`user${i}@${E2E_DOMAIN}`],
        data: `Subject: cluster ${i}\r\n\r\nHello.\r\n`,
      });
      assert(sent.queueId, sent.stdout);
      ids.push(sent.queueId);
    }
    const wanted = new Set(ids);
    const delivered = () =>
      receiver.events().filter((e) => e.type === "delivered" && wanted.has(e.message_id!));
    await waitUntil(() => delivered().length >= MESSAGES, {
      timeoutMs: WAIT_MS,
      message: `${MESSAGES} delivered events`,
    });
    const received = receiver.events().filter((e) =>
      e.type === "received" && wanted.has(e.message_id!)
    );
    assertEquals(received.length, MESSAGES);
    assertEquals(new Set(received.map((e) => e.node)), new Set(["node-a", "node-b"]));
    // Once by the cluster: no event id twice.
    const all = receiver.events().map((e) => e.id);
    assertEquals(all.length, new Set(all).size, "an event was posted twice");
    assertEquals(receiver.badSignatures(), 0);

    // The exchange got each event once too (each node publishes its own).
    await waitUntil(
      () =>
        published.filter((e) => e.type === "delivered" && wanted.has(e.message_id!)).length >=
          MESSAGES,
      {
        timeoutMs: WAIT_MS,
        message: "the events on the exchange",
      },
    );
    const onExchange = published.filter((e) => wanted.has(e.message_id!)).map((e) => e.id);
    assertEquals(onExchange.length, new Set(onExchange).size);
  } catch (error) {
    e2e.dump();
    throw error;
  } finally {
    await conn.close();
  }
});
