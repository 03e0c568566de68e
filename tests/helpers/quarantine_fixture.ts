/**
 * A fixture for the quarantine tests: a DNS server and SMTP sink on loopback, a server config
 * in either queue mode (embedded SQLite, or RabbitMQ on a vhost of its own with PostgreSQL),
 * mail queued straight through the Queue API while no server runs (bypassing every door), then
 * a real server process, its JSON API and its CLI.
 *
 * @module
 */
import { loadConfig } from "../../core/config/mod.ts";
import { newQueueId } from "../../core/accept/queue_id.ts";
import type { NewMessage } from "../../core/queue/contracts.ts";
import { openQueue } from "../../core/queue/mod.ts";
import { openStore } from "../../core/store/mod.ts";
import { startDnsServer } from "./dns_server.ts";
import { freePort, tempDir, uniqueLoopbackIp } from "./net.ts";
import { sharedDatabase, testVhost } from "./rabbitmq.ts";
import {
  type CliResult,
  makeServerConfig,
  runCli,
  type ServerConfig,
  type ServerProcess,
  startServer,
  TEST_API_TOKEN,
} from "./server_process.ts";
import { type SinkCommandContext, startSmtpSink } from "./smtp_sink.ts";

/** Where mail goes: the sink answers for these domains. */
export const DEST = "dest.test";
export const ORIGIN = "origin.test";

/** Which queue the server runs. */
export type QueueMode = "embedded" | "rabbitmq";

/** The fixture. */
export interface QuarantineFixture extends AsyncDisposable {
  sink: Awaited<ReturnType<typeof startSmtpSink>>;
  config: ServerConfig;
  /** The config file (for the CLI and for queueing before the server starts). */
  configPath: string;
  server: ServerProcess | null;
  /** Queues messages through the Queue API directly (no door, no server needed). */
  queue(messages: NewMessage[]): Promise<void>;
  start(env?: Record<string, string>): Promise<ServerProcess>;
  api<T>(method: string, path: string): Promise<{ status: number; body: T }>;
  cli(args: string[]): Promise<CliResult>;
}

/** A message to `DEST`; `tag` is its Subject (how the sink's copy is recognised). */
export function testMessage(
  tag: string,
  options: { to?: string[]; meta?: Record<string, unknown> } = {},
): NewMessage {
  const to = options.to ?? [`rcpt@${DEST}`];
  const body = [
    `From: <sender@${ORIGIN}>`,
    `To: ${to.map((a) => `<${a}>`).join(", ")}`,
    `Subject: ${tag}`,
    `Message-ID: <${crypto.randomUUID()}@${ORIGIN}>`,
    "",
    `Body of ${tag}.`,
    "",
  ].join("\r\n");
  return {
    id: newQueueId(),
    sender: `sender@${ORIGIN}`,
    recipients: to,
    channel: "api",
    clientIp: null,
    receivedAt: Date.now(),
    body: new TextEncoder().encode(body),
    meta: options.meta,
  };
}

/** Metadata nested `depth` levels deep, built without recursion. */
export function nestedMeta(depth: number): Record<string, unknown> {
  let inner: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) inner = { a: inner };
  return { deep: inner };
}

/** The Subject of a message the sink accepted. */
export function subjectOf(text: string): string {
  return text.match(/^Subject: (.*)$/m)?.[1]?.trim() ?? "";
}

/** Sets up sink, DNS and config (no server yet). */
export async function quarantineFixture(options: {
  mode: QueueMode;
  reply?: (ctx: SinkCommandContext) => string | undefined;
  tweak?: (config: ServerConfig) => void;
}): Promise<QuarantineFixture> {
  const dir = tempDir("fastmta-quarantine-");
  const sinkIp = uniqueLoopbackIp();
  const sink = await startSmtpSink({
    hostname: sinkIp,
    port: freePort(sinkIp),
    reply: options.reply,
  });
  const mx = (domain: string) => ({ MX: [{ preference: 10, exchange: `mx1.${domain}` }] });
  const dns = await startDnsServer({
    zones: {
      [DEST]: mx(DEST),
      [`mx1.${DEST}`]: { A: [sinkIp] },
      [ORIGIN]: mx(ORIGIN),
      [`mx1.${ORIGIN}`]: { A: [sinkIp] },
    },
  });
  const config = makeServerConfig({
    dataDir: `${dir.path}/data`,
    smtpPort: freePort(),
    adminPort: freePort(),
    dnsPort: dns.port,
    remotePort: sink.port,
  });
  // Quick passes: a failed unit is due again after 1 s, 2 s (core/store/quarantine.ts).
  config.queue = { poll_interval: "200ms" };
  const database = options.mode === "rabbitmq" ? await sharedDatabase(dir.path) : null;
  if (options.mode === "rabbitmq") {
    const vhost = await testVhost();
    config.database = database!.config;
    config.rabbitmq = { ...vhost.config, reconnect_max: "1s" };
  }
  options.tweak?.(config);
  const configPath = `${dir.path}/config.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  const fixture: QuarantineFixture = {
    sink,
    config,
    configPath,
    server: null,
    async queue(messages) {
      const loaded = await loadConfig(configPath);
      const store = await openStore(loaded, "accept");
      try {
        await store.migrate();
        const queue = await openQueue(loaded, store, { role: "accept", log: () => {} });
        try {
          await queue.enqueue(messages);
        } finally {
          await queue.close();
        }
      } finally {
        await store.close();
      }
    },
    async start(env) {
      fixture.server = await startServer({
        config,
        env,
        echo: Deno.env.get("FASTMTA_TEST_ECHO") === "1",
      });
      return fixture.server;
    },
    async api<T>(method: string, path: string) {
      const response = await fetch(`${fixture.server!.adminUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
      });
      return { status: response.status, body: await response.json() as T };
    },
    cli: (args) => runCli([...args, "--config", configPath]),
    async [Symbol.asyncDispose]() {
      await fixture.server?.stop();
      await sink.close();
      await dns.close();
      await database?.[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
  return fixture;
}
