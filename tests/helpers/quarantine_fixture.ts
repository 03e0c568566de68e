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
import type { NewMessage } from "../../core/contracts/mod.ts";
import { openQueue } from "../../core/queue/mod.ts";
import { openStore } from "../../core/store/mod.ts";
import { E2E_DOMAIN, startE2eFixture } from "./e2e_fixture.ts";
import {
  type CliResult,
  runCli,
  type ServerConfig,
  type ServerProcess,
  TEST_API_TOKEN,
} from "./server_process.ts";
import type { SinkCommandContext, SmtpSink } from "./smtp_sink.ts";

/** Where mail goes: the sink answers for these domains. */
export const DEST = E2E_DOMAIN;
export const ORIGIN = "origin.test";

/** Which queue the server runs. */
export type QueueMode = "embedded" | "rabbitmq";

/** The fixture. */
export interface QuarantineFixture extends AsyncDisposable {
  sink: SmtpSink;
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
  const mx = (domain: string) => ({ MX: [{ preference: 10, exchange: `mx1.${domain}` }] });
  const e2e = await startE2eFixture({
    prefix: "fastmta-quarantine-",
    sinkReply: options.reply,
    zones: (sinkIp) => ({
      [DEST]: mx(DEST),
      [`mx1.${DEST}`]: { A: [sinkIp] },
      [ORIGIN]: mx(ORIGIN),
      [`mx1.${ORIGIN}`]: { A: [sinkIp] },
    }),
    // RabbitMQ on a vhost of its own with the shared PostgreSQL database.
    distributed: options.mode === "rabbitmq",
  });
  const { sink } = e2e;
  const config = e2e.nodeConfig();
  // Quick passes: a failed unit is due again after 1 s, 2 s (core/store/quarantine.ts).
  config.queue = { poll_interval: "200ms" };
  options.tweak?.(config);
  const configPath = await e2e.writeConfig(config);
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
      fixture.server = await e2e.start(config, {
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
    [Symbol.asyncDispose]: () => e2e[Symbol.asyncDispose](),
  };
  return fixture;
}
