/**
 * The two-node cluster the distributed-mode e2e tests run (cluster*.rabbitmq.pg.e2e_test.ts):
 * server processes over one RabbitMQ vhost and one shared database, delivering to one sink.
 */
import { startE2eFixture } from "./e2e_fixture.ts";
import { type TestVhost } from "./rabbitmq.ts";
import { type ServerConfig, type ServerProcess } from "./server_process.ts";
import type { SmtpSink, SmtpSinkOptions } from "./smtp_sink.ts";
import { countSubjects, type SmtpLoadResult } from "./smtp_load.ts";
import { waitUntil } from "./wait.ts";

/** The node ids a cluster starts, in order. */
export const NODES = ["node-a", "node-b"];

/** Running cluster nodes with their sink, vhost and database. */
export interface Cluster extends AsyncDisposable {
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

/**
 * Starts `nodes` (default all of {@link NODES}) server processes in distributed mode over one
 * e2e fixture: each sends from its own loopback address, so the sink sees which node delivered.
 */
export async function startCluster(
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
export async function waitAllDelivered(
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

/** Logs what a load run did; returns how many subjects arrived more than once. */
export function report(
  name: string,
  load: SmtpLoadResult,
  counts: Map<string, number>,
  c: Cluster,
) {
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
