/**
 * Running the fastmta server (`main.ts serve`) and CLI as child processes in
 * tests. Everything started here is stopped by `stop()` / `kill()` (or
 * `await using`).
 *
 * @module
 */

import { waitForPort } from "./net.ts";
import { childDenyFlags } from "./test_tags.ts";

export { parseQueueId, sendWithSmtplib, sendWithSwaks } from "./smtp_client.ts";

const REPO_ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(
  /\/$/,
  "",
);

/** Absolute path of the repository root. */
export function repoRoot(): string {
  return REPO_ROOT;
}

/** The parts of the server config the helpers read; everything else passes through. */
export interface ServerConfig {
  /** SMTP settings; `listen[0]` ("host:port") is where startServer waits. */
  smtp: { listen: string[]; [key: string]: unknown };
  /** Admin HTTP settings; `listen` ("host:port") gives `adminUrl`. */
  admin?: { listen?: string; [key: string]: unknown };
  /** Any other config field, passed through unchanged. */
  [key: string]: unknown;
}

/** Options for {@link startServer}. */
export interface StartServerOptions {
  /** Config object, written as JSON to a temp file passed via `--config`. */
  config: ServerConfig;
  /** Extra environment variables (the parent's environment is inherited). */
  env?: Record<string, string>;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Script to run instead of `<repo>/main.ts` (for testing the helpers). */
  entry?: string;
  /** How long to wait for the SMTP port (default 30 000 ms). */
  startupTimeoutMs?: number;
  /** Also copy the server's output to this process's stderr as it arrives. */
  echo?: boolean;
}

/** A running server process. */
export interface ServerProcess extends AsyncDisposable {
  /** The child process. */
  readonly process: Deno.ChildProcess;
  /** Its pid. */
  readonly pid: number;
  /** Host of `config.smtp.listen[0]`. */
  readonly smtpHost: string;
  /** Port of `config.smtp.listen[0]`. */
  readonly smtpPort: number;
  /** `"host:port"` of the SMTP listener, for `sendWithSwaks({ server })`. */
  readonly smtpAddress: string;
  /** `http://<config.admin.listen>` (undefined if the config has no admin listener). */
  readonly adminUrl: string | undefined;
  /** Path of the written config file. */
  readonly configPath: string;
  /** Resolves when the process exits. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** stdout and stderr collected so far, interleaved in arrival order. */
  logs(): string;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** SIGTERM, wait up to `graceMs` (default 10 000) for the exit, then SIGKILL. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Splits "host:port" / "[v6]:port" into its parts. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = address.match(/^\[([^\]]+)\]:(\d+)$/) ?? address.match(/^([^:]*):(\d+)$/);
  if (!m) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1] || "127.0.0.1", port: Number(m[2]) };
}

function denoArgs(entry: string, args: string[]): string[] {
  // In `deno task test:unit` the child is denied the services as this process is.
  const deny = childDenyFlags();
  return ["run", "-A", ...deny, "--config", `${REPO_ROOT}/deno.json`, entry, ...args];
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  sink: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
  const rest = decoder.decode();
  if (rest) sink(rest);
}

/**
 * Starts `main.ts serve --config <file>` and resolves once the first SMTP
 * listen address accepts TCP connections. Rejects (after killing the child)
 * with the collected output if the process exits or the port does not open
 * within `startupTimeoutMs`.
 */
export async function startServer(opts: StartServerOptions): Promise<ServerProcess> {
  const listen = opts.config.smtp?.listen?.[0];
  if (!listen) throw new Error("startServer: config.smtp.listen[0] is required");
  const { host: smtpHost, port: smtpPort } = splitHostPort(listen);
  const adminListen = opts.config.admin?.listen;
  const adminUrl = adminListen ? `http://${adminListen}` : undefined;

  const configDir = await Deno.makeTempDir({ prefix: "fastmta-config-" });
  const configPath = `${configDir}/config.json`;
  // Text logs unless the test asks for JSON: tests match log lines as "component: message".
  const config = { log: { format: "text" }, ...opts.config };
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));

  const entry = opts.entry ?? `${REPO_ROOT}/main.ts`;
  const child = new Deno.Command(Deno.execPath(), {
    args: denoArgs(entry, ["serve", "--config", configPath]),
    cwd: opts.cwd ?? REPO_ROOT,
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let log = "";
  const append = (text: string) => {
    log += text;
    if (opts.echo) Deno.stderr.writeSync(new TextEncoder().encode(text));
  };
  const readers = Promise.all([
    collect(child.stdout, append),
    collect(child.stderr, append),
  ]).catch(() => {});
  let exitStatus: Deno.CommandStatus | undefined;
  const exited = child.status.then(async (status) => {
    exitStatus = status;
    await readers;
    return status;
  });

  let cleaned: Promise<void> | undefined;
  const cleanup = () => cleaned ??= Deno.remove(configDir, { recursive: true }).catch(() => {});

  const kill = async (signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> => {
    if (exitStatus === undefined) {
      try {
        child.kill(signal);
      } catch {
        // Already exited between the check and the kill.
      }
    }
    const status = await exited;
    await cleanup();
    return status;
  };

  const stop = async (graceMs = 10_000): Promise<Deno.CommandStatus> => {
    if (exitStatus !== undefined) return await kill();
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const result = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (result === "timeout") return await kill("SIGKILL");
    await cleanup();
    return result;
  };

  const abort = new AbortController();
  exited.then(() => abort.abort(new Error("server exited")));
  try {
    await waitForPort(smtpHost, smtpPort, opts.startupTimeoutMs ?? 30_000, {
      signal: abort.signal,
    });
  } catch (err) {
    const status = await kill("SIGKILL");
    const reason = exitStatus && abort.signal.aborted
      ? `server exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`
      : (err instanceof Error ? err.message : String(err));
    throw new Error(
      `startServer: SMTP ${smtpHost}:${smtpPort} never came up: ${reason}\n--- server output ---\n${log}`,
    );
  }

  return {
    process: child,
    pid: child.pid,
    smtpHost,
    smtpPort,
    smtpAddress: `${smtpHost}:${smtpPort}`,
    adminUrl,
    configPath,
    exited,
    logs: () => log,
    kill,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/**
 * Starts a server, runs `fn` with it and always stops it afterwards. If `fn`
 * throws, the server's output is printed to stderr before the error is
 * rethrown, so failing tests show what the server said.
 */
export async function withServer<T>(
  opts: StartServerOptions,
  fn: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await startServer(opts);
  try {
    return await fn(server);
  } catch (err) {
    console.error(`--- fastmta server output (pid ${server.pid}) ---\n${server.logs()}`);
    throw err;
  } finally {
    await server.stop();
  }
}

/** Options for {@link runCli}. */
export interface RunCliOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Text written to the CLI's stdin (default: no stdin). */
  stdin?: string;
  /** Kill the CLI after this many milliseconds (default 60 000). */
  timeoutMs?: number;
  /** Script to run instead of `<repo>/main.ts`. */
  entry?: string;
}

/** Result of {@link runCli}. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Whether the exit code was 0. */
  success: boolean;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
}

/**
 * Runs `main.ts <args...>` to completion (e.g. `["migrate", "--config", f]`
 * or `["queue", "--config", f]`) and returns its exit code and output.
 */
export async function runCli(args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: denoArgs(opts.entry ?? `${REPO_ROOT}/main.ts`, args),
      cwd: opts.cwd ?? REPO_ROOT,
      env: { NO_COLOR: "1", ...opts.env },
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      signal: abort.signal,
    }).spawn();
    if (opts.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(opts.stdin));
      await writer.close();
    }
    const out = await child.output();
    if (abort.signal.aborted) {
      throw new Error(`runCli: ${args.join(" ")} did not finish within ${timeoutMs} ms`);
    }
    return {
      code: out.code,
      success: out.success,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** The bearer token {@link makeServerConfig} puts in `admin.api_tokens`. */
export const TEST_API_TOKEN = "test-api-token-0123456789";

/** GET a JSON admin API path (e.g. "/api/v1/queue") with the test bearer token. */
export async function adminApi<T = unknown>(
  server: { adminUrl: string | undefined },
  path: string,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
  });
  return { status: response.status, body: await response.json() as T };
}

/** Parameters for {@link makeServerConfig}. */
export interface MakeServerConfigOptions {
  /** Directory for data_dir and the sqlite database. */
  dataDir: string;
  /** SMTP listen port on 127.0.0.1 (default: a free one). */
  smtpPort: number;
  /** Admin listen port on 127.0.0.1. */
  adminPort: number;
  /** Port of the test DNS server on 127.0.0.1. */
  dnsPort: number;
  /** Port the server delivers to (where the SMTP sinks listen). */
  remotePort: number;
  /** Outbound source IPs (default ["127.0.0.10"]). */
  outboundIps?: { ip: string; hostname: string }[];
  /** Node id (default "node-a"). */
  id?: string;
}

/**
 * Builds a config object in the shape of the documented example (including
 * its `ip_addressess` key). Merge or override fields as a test needs.
 */
export function makeServerConfig(opts: MakeServerConfigOptions): ServerConfig {
  return {
    id: opts.id ?? "node-a",
    name: "test",
    data_dir: opts.dataDir,
    database: { driver: "sqlite3", connection: `${opts.dataDir}/fastmta.db` },
    ip_addressess: (opts.outboundIps ?? [{ ip: "127.0.0.10", hostname: "vmta1.test" }]).map((
      a,
    ) => ({ ip: a.ip, hostname: a.hostname, inbound: false, outbound: true })),
    smtp: {
      listen: [`127.0.0.1:${opts.smtpPort}`],
      hostname: "mx.fastmta.test",
      max_message_size: 10_485_760,
      relay_networks: ["127.0.0.0/8"],
    },
    admin: { listen: `127.0.0.1:${opts.adminPort}`, api_tokens: [TEST_API_TOKEN] },
    dns: { servers: [`127.0.0.1:${opts.dnsPort}`] },
    delivery: { remote_port: opts.remotePort, retry_schedule: ["1s", "2s"], max_age: "1h" },
  };
}
