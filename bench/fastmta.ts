/**
 * fastmta under test: `deno run -A main.ts serve --config FILE` with a fresh data dir per run, the
 * embedded store (sqlite3) and a route sending every domain to the sink.
 */
import type { Server } from "./server.ts";
import { readStat } from "./procstat.ts";
import { run, smtpGreets, spawn, splitHostPort, type Tracked, waitFor } from "./util.ts";

/** Options for {@link FastmtaServer}. */
export interface FastmtaOptions {
  /** Repository root (cwd of the server; holds deno.json). */
  repo: string;
  /** Entry point, default `<repo>/main.ts`. */
  main: string;
  /** SMTP listener. */
  addr: string;
  /** Admin HTTP listener. */
  admin: string;
  /** The sink every route points to. */
  sinkAddr: string;
  /** Seconds to wait for the first greeting (first start may fetch npm packages). */
  startTimeoutSec: number;
}

/** fastmta under test. */
export class FastmtaServer implements Server {
  /** System name in reports. */
  readonly name = "fastmta";
  /** SMTP listener. */
  readonly addr: string;
  /** "fastmta <git rev>". */
  version = "fastmta";
  #o: FastmtaOptions;
  #proc: Tracked | undefined;
  #log = "";

  constructor(o: FastmtaOptions) {
    this.#o = o;
    this.addr = o.addr;
  }

  /** True if the entry point exists. */
  available(): boolean {
    try {
      return Deno.statSync(this.#o.main).isFile;
    } catch {
      return false;
    }
  }

  /** Reads the git revision for the report (read-only git command). */
  async describe(): Promise<void> {
    const res = await run("git", ["-C", this.#o.repo, "rev-parse", "--short", "HEAD"], {
      timeoutMs: 10_000,
    }).catch(() => undefined);
    this.version = `fastmta ${res?.code === 0 ? res.stdout.trim() : "?"}`;
  }

  /** The configuration file written for a run (the documented serve contract). */
  config(runDir: string): Record<string, unknown> {
    const sink = splitHostPort(this.#o.sinkAddr);
    return {
      id: "bench",
      name: "bench",
      data_dir: `${runDir}/data`,
      database: { driver: "sqlite3", connection: `${runDir}/data/fastmta.db` },
      smtp: {
        listen: [this.#o.addr],
        hostname: "mta.bench.local",
        max_message_size: 52428800,
        relay_networks: ["127.0.0.0/8"],
      },
      admin: { listen: this.#o.admin },
      routes: { "*": { host: sink.host, port: sink.port } },
      delivery: { retry_schedule: ["1s", "2s", "5s"], max_age: "1h" },
    };
  }

  /** Writes the config, starts the server and waits for its SMTP greeting. */
  async start(runDir: string): Promise<void> {
    await Deno.mkdir(`${runDir}/data`, { recursive: true });
    const cfg = `${runDir}/fastmta.json`;
    await Deno.writeTextFile(cfg, JSON.stringify(this.config(runDir), null, 2) + "\n");
    this.#log = `${runDir}/fastmta.log`;
    // exec: the PID we track is the Deno process itself (all its worker threads included)
    this.#proc = spawn("fastmta", "bash", [
      "-c",
      'exec "$0" run -A "$4" "$1" serve --config "$2" >"$3" 2>&1',
      Deno.execPath(),
      this.#o.main,
      cfg,
      this.#log,
      await v8FlagsOfStartTask(this.#o.repo),
    ], { cwd: this.#o.repo });
    const proc = this.#proc;
    const ok = await waitFor(
      async () => proc.status.exited || await smtpGreets(this.addr, 1_000),
      this.#o.startTimeoutSec * 1000,
      100,
    );
    if (!ok || proc.status.exited) {
      const tail = await this.#logTail();
      await this.stop();
      throw new Error(
        `fastmta did not come up on ${this.addr} (${
          proc.status.exited ? `exited ${proc.status.code}` : "timeout"
        }); log ${this.#log}:\n${tail}`,
      );
    }
  }

  async #logTail(): Promise<string> {
    try {
      const text = await Deno.readTextFile(this.#log);
      return text.split("\n").slice(-15).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** The Deno process. */
  rootPid(): number {
    return this.#proc?.pid ?? 0;
  }

  /** Whether the process is alive. */
  alive(): boolean {
    return !!this.#proc && !this.#proc.status.exited && readStat(this.#proc.pid) !== undefined;
  }

  /** Nothing to do: the retry schedule (1s, 2s, 5s) picks deferred messages up. */
  afterSinkUp(): Promise<void> {
    return Promise.resolve();
  }

  /** SIGTERM, then SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await this.#proc?.stop(15_000);
  }

  /** The server's output for this run. */
  logHint(): string {
    return this.#log;
  }
}

/** The `--v8-flags=…` of `deno task start`: the bench runs fastmta as users do. */
async function v8FlagsOfStartTask(repo: string): Promise<string> {
  const denoJson = JSON.parse(await Deno.readTextFile(`${repo}/deno.json`));
  const flags = String(denoJson.tasks?.start ?? "").match(/--v8-flags=\S+/)?.[0];
  if (!flags) throw new Error(`${repo}/deno.json: the start task has no --v8-flags`);
  return flags;
}
