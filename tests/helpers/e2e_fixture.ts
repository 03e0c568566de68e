/**
 * The shared set-up of the end-to-end tests: a temp folder, an SMTP sink on a loopback address of
 * its own, a loopback DNS server whose test domain has its MX on the sink, configs for nodes that
 * deliver there (in distributed mode on a RabbitMQ vhost of their own and the shared database),
 * and the server processes started from them. `await using` stops every server it started (in
 * parallel), then closes the sink and the DNS server and removes the database and the folder.
 *
 * ```ts
 * await using e2e = await startE2eFixture();
 * const server = await e2e.start(e2e.nodeConfig());
 * await sendWithSwaks({ server: server.smtpAddress, to: [`rcpt@${E2E_DOMAIN}`], ... });
 * await e2e.sink.waitForMessages(1);
 * ```
 *
 * @module
 */
import { type DnsRecords, type DnsServer, startDnsServer } from "./dns_server.ts";
import { freePort, tempDir, uniqueLoopbackIp, waitForPort } from "./net.ts";
import { type SharedDatabase, sharedDatabase, type TestVhost, testVhost } from "./rabbitmq.ts";
import {
  makeServerConfig,
  type ServerConfig,
  type ServerProcess,
  splitHostPort,
  startServer,
  type StartServerOptions,
} from "./server_process.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "./smtp_sink.ts";

/** The domain whose MX (`mx1.dest.test`) is the sink, unless `zones` says otherwise. */
export const E2E_DOMAIN = "dest.test";

/** Options for {@link startE2eFixture}. */
export interface E2eFixtureOptions {
  /** Prefix of the temp folder's name. */
  prefix?: string;
  /** The sink's reply hook (see {@link SmtpSinkOptions.reply}). */
  sinkReply?: SmtpSinkOptions["reply"];
  /** The DNS records, given the sink's address (default: {@link E2E_DOMAIN}'s MX on the sink). */
  zones?: (sinkIp: string) => Record<string, DnsRecords>;
  /**
   * Distributed mode: every node config gets a RabbitMQ vhost of this fixture's own and the
   * shared database (PostgreSQL; SQLite only if PostgreSQL is unreachable).
   */
  distributed?: boolean;
}

/** Options for {@link E2eFixture.nodeConfig}. */
export interface E2eNodeOptions {
  /** Node id (default "node-a"); the node's data folder is `<dir>/<id>`. */
  id?: string;
  /** Outbound source addresses (default 127.0.0.10 as vmta1.test). */
  outboundIps?: { ip: string; hostname: string }[];
}

/** Options for {@link E2eFixture.start}: those of `startServer`, and whether to wait for admin. */
export interface E2eStartOptions extends Omit<StartServerOptions, "config"> {
  /** Also wait for the admin HTTP listener (default true; SMTP is always waited for). */
  waitForAdmin?: boolean;
}

/** A running end-to-end world; see the module doc. */
export interface E2eFixture extends AsyncDisposable {
  /** The temp folder (removed at disposal). */
  readonly dir: string;
  /** The SMTP sink every node delivers to. */
  readonly sink: SmtpSink;
  /** The sink's address. */
  readonly sinkIp: string;
  /** The DNS server every node resolves with. */
  readonly dns: DnsServer;
  /** The RabbitMQ vhost (distributed mode only). */
  readonly vhost: TestVhost | undefined;
  /** The shared database (distributed mode only). */
  readonly database: SharedDatabase | undefined;
  /** Every server started so far, in start order (killed ones included). */
  readonly servers: readonly ServerProcess[];
  /**
   * A config (see `makeServerConfig`) for a node that resolves with {@link dns} and delivers to
   * {@link sink}, on fresh SMTP and admin ports; in distributed mode with the vhost (reconnecting
   * within 1 s) and the shared database. Change it as the test needs before starting it.
   */
  nodeConfig(options?: E2eNodeOptions): ServerConfig;
  /** Writes `config` to `<dir>/<id>.config.json` (for the CLI) and returns the path. */
  writeConfig(config: ServerConfig): Promise<string>;
  /**
   * Starts a server from `config` and resolves once its SMTP listener and (when configured and
   * `waitForAdmin` is not false) its admin listener accept connections. It is stopped at
   * disposal.
   */
  start(config: ServerConfig, options?: E2eStartOptions): Promise<ServerProcess>;
  /** The output of every server started so far, each under a `--- server pid N ---` line. */
  logs(): string;
  /** Prints {@link logs} to stderr (call it when a test fails). */
  dump(): void;
}

function defaultZones(sinkIp: string): Record<string, DnsRecords> {
  return {
    [E2E_DOMAIN]: { MX: [{ preference: 10, exchange: `mx1.${E2E_DOMAIN}` }] },
    [`mx1.${E2E_DOMAIN}`]: { A: [sinkIp] },
  };
}

/** Starts the sink, the DNS server (and the vhost and database); see {@link E2eFixture}. */
export async function startE2eFixture(options: E2eFixtureOptions = {}): Promise<E2eFixture> {
  // Disposed in reverse: the servers first, the folder last.
  const stack = new AsyncDisposableStack();
  try {
    const dir = stack.use(tempDir(options.prefix ?? "fastmta-e2e-"));
    const vhost = options.distributed ? stack.use(await testVhost()) : undefined;
    const database = options.distributed ? stack.use(await sharedDatabase(dir.path)) : undefined;
    const sinkIp = uniqueLoopbackIp();
    const sink = stack.use(await startSmtpSink({ hostname: sinkIp, reply: options.sinkReply }));
    const zones = (options.zones ?? defaultZones)(sinkIp);
    const dns = stack.use(await startDnsServer({ zones }));
    const servers: ServerProcess[] = [];
    stack.defer(async () => {
      await Promise.all(servers.map((server) => server.stop()));
    });
    const logs = () =>
      servers.map((server) => `--- server pid ${server.pid} ---\n${server.logs()}`).join("\n");
    const moved = stack.move();
    return {
      dir: dir.path,
      sink,
      sinkIp,
      dns,
      vhost,
      database,
      servers,
      nodeConfig(node = {}) {
        const id = node.id ?? "node-a";
        const config = makeServerConfig({
          id,
          dataDir: `${dir.path}/${id}`,
          smtpPort: freePort(),
          adminPort: freePort(),
          dnsPort: dns.port,
          remotePort: sink.port,
          outboundIps: node.outboundIps,
        });
        if (database) config.database = database.config;
        if (vhost) config.rabbitmq = { ...vhost.config, reconnect_max: "1s" };
        return config;
      },
      async writeConfig(config) {
        const path = `${dir.path}/${config.id ?? "node"}.config.json`;
        await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
        return path;
      },
      async start(config, { waitForAdmin = true, ...startOptions } = {}) {
        const server = await startServer({ ...startOptions, config });
        servers.push(server);
        // startServer waits for SMTP; the admin listener opens a little later.
        const admin = config.admin?.listen;
        if (admin && waitForAdmin) {
          const { host, port } = splitHostPort(admin);
          await waitForPort(host, port, 20_000);
        }
        return server;
      },
      logs,
      dump: () => console.error(logs()),
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}
