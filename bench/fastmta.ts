/**
 * fastmta under test: `deno run -A main.ts serve --config FILE` with a fresh data dir per run, the
 * embedded store (sqlite3) and a route sending every domain to the sink. Variants measure the
 * cost of events (issue 16): `fastmta` runs the defaults (events emitted and buffered, no writer
 * configured), `fastmta-noevents` turns them off (`events.enabled: false`), `fastmta-events`
 * writes them all: the accounting log and one webhook (every type) on a loopback receiver.
 * `fastmta-distributed` is one node in distributed mode (RabbitMQ + PostgreSQL on loopback, a
 * vhost and a database of its own per run; bench/distributed.ts); `fastmta-distributed2` is two
 * such nodes on one database and vhost (the second on the SMTP port + 2 and admin port + 1): the
 * load goes to the first, and both lease and deliver. One bash process is their parent, so the
 * measured process tree holds both. `fastmta-main` runs delivery in the main isolate
 * (`delivery.isolate: main`, issue 19: one V8 isolate less; the default since 2026-12-04, so the
 * same as `fastmta` unless the checkout is older), `fastmta-worker` in a worker of its own
 * (`delivery.isolate: worker`, the default before), `fastmta-shared` in the SMTP worker
 * (`delivery.isolate: smtp`); `fastmta-single` runs SMTP in the main isolate too (`smtp.isolate:
 * main`, delivery main: one isolate in all); `fastmta-nolease` turns leases at accept off
 * (`queue.lease_at_accept: false`: every unit leased by a scheduling pass, as before session 10).
 */
import type { Server } from "./server.ts";
import { processTree, readStat } from "./procstat.ts";
import { run, smtpGreets, spawn, splitHostPort, type Tracked, waitFor } from "./util.ts";
import { type BenchWebhookReceiver, startBenchWebhookReceiver } from "./webhook_receiver.ts";
import { type Backends, componentStats, createBackends, threadCpu } from "./distributed.ts";

/** Which events set-up a fastmta run has (see the module comment). */
export type FastmtaVariant =
  | "fastmta"
  | "fastmta-noevents"
  | "fastmta-main"
  | "fastmta-worker"
  | "fastmta-shared"
  | "fastmta-single"
  | "fastmta-nolease"
  | "fastmta-events"
  | "fastmta-distributed"
  | "fastmta-distributed2";

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
  /** Default "fastmta". */
  variant?: FastmtaVariant;
  /** `fastmta-events`: where the webhook receiver listens (default 127.0.0.5:8090). */
  webhookAddr?: string;
}

/** fastmta under test. */
export class FastmtaServer implements Server {
  /** System name in reports: the variant. */
  readonly name: FastmtaVariant;
  /** SMTP listener. */
  readonly addr: string;
  /** "fastmta <git rev>". */
  version = "fastmta";
  #o: FastmtaOptions;
  #proc: Tracked | undefined;
  #log = "";
  #receiver: BenchWebhookReceiver | null = null;
  #backends: Backends | null = null;

  constructor(o: FastmtaOptions) {
    this.#o = o;
    this.addr = o.addr;
    this.name = o.variant ?? "fastmta";
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

  /** SMTP and admin listeners of node 1 (the one under load) or node 2 (ports shifted). */
  #listeners(node: 1 | 2): { smtp: string; admin: string } {
    if (node === 1) return { smtp: this.#o.addr, admin: this.#o.admin };
    const smtp = splitHostPort(this.#o.addr);
    const admin = splitHostPort(this.#o.admin);
    return { smtp: `${smtp.host}:${smtp.port + 2}`, admin: `${admin.host}:${admin.port + 1}` };
  }

  /** The configuration file written for a run (the documented serve contract). */
  config(runDir: string, node: 1 | 2 = 1): Record<string, unknown> {
    const sink = splitHostPort(this.#o.sinkAddr);
    const listen = this.#listeners(node);
    const dir = node === 1 ? `${runDir}/data` : `${runDir}/data2`;
    return {
      id: node === 1 ? "bench" : "bench-2",
      name: node === 1 ? "bench" : "bench-2",
      data_dir: dir,
      database: { driver: "sqlite3", connection: `${dir}/fastmta.db` },
      smtp: {
        listen: [listen.smtp],
        hostname: "mta.bench.local",
        max_message_size: 52428800,
        relay_networks: ["127.0.0.0/8"],
        ...(this.name === "fastmta-single" ? { isolate: "main" } : {}),
      },
      admin: { listen: listen.admin },
      routes: { "*": { host: sink.host, port: sink.port } },
      delivery: {
        retry_schedule: ["1s", "2s", "5s"],
        max_age: "1h",
        ...(this.name === "fastmta-main" ? { isolate: "main" } : {}),
        ...(this.name === "fastmta-worker" ? { isolate: "worker" } : {}),
        ...(this.name === "fastmta-shared" ? { isolate: "smtp" } : {}),
      },
      ...(this.#backends?.config ?? {}),
      ...(this.name === "fastmta-noevents" ? { events: { enabled: false } } : {}),
      ...(this.name === "fastmta-nolease" ? { queue: { lease_at_accept: false } } : {}),
      ...(this.name === "fastmta-events"
        ? { events: { accounting: { path: `${runDir}/accounting/events.jsonl` } } }
        : {}),
    };
  }

  /** `fastmta-events`: the receiver, and the webhook stored before the server starts. */
  async #addWebhook(cfg: string) {
    this.#receiver = startBenchWebhookReceiver(this.#o.webhookAddr ?? "127.0.0.5:8090");
    for (
      const args of [
        ["migrate", "--config", cfg],
        [
          "webhook",
          "add",
          this.#receiver.url,
          ...["--events", "*", "--id", "bench", "--secret", "bench-webhook-secret-0123"],
          ...["--config", cfg],
        ],
      ]
    ) {
      const res = await run(Deno.execPath(), ["run", "-A", this.#o.main, ...args], {
        cwd: this.#o.repo,
        timeoutMs: 120_000,
      });
      if (res.code !== 0) throw new Error(`fastmta ${args[0]}: ${res.stderr}`);
    }
  }

  /** Writes the config, starts the server and waits for its SMTP greeting. */
  async start(runDir: string): Promise<void> {
    await Deno.mkdir(`${runDir}/data`, { recursive: true });
    const cfg = `${runDir}/fastmta.json`;
    await Deno.writeTextFile(cfg, JSON.stringify(this.config(runDir), null, 2) + "\n");
    this.#log = `${runDir}/fastmta.log`;
    const two = this.name === "fastmta-distributed2";
    if (this.name === "fastmta-distributed" || two) {
      this.#backends = await createBackends();
      await Deno.writeTextFile(cfg, JSON.stringify(this.config(runDir), null, 2) + "\n");
    }
    if (two) {
      await Deno.mkdir(`${runDir}/data2`, { recursive: true });
      const cfg2 = `${runDir}/fastmta-2.json`;
      await Deno.writeTextFile(cfg2, JSON.stringify(this.config(runDir, 2), null, 2) + "\n");
      // Both nodes under one bash: SIGTERM stops both, and either one exiting stops the other.
      this.#proc = spawn("fastmta x2", "bash", [
        "-c",
        "trap 'kill -TERM $a $b 2>/dev/null; wait' TERM INT; " +
        '"$0" run -A $4 "$1" serve --config "$2" >"$3" 2>&1 & a=$!; ' +
        '"$0" run -A $4 "$1" serve --config "$5" >"$6" 2>&1 & b=$!; ' +
        "wait -n; kill -TERM $a $b 2>/dev/null; wait",
        Deno.execPath(),
        this.#o.main,
        cfg,
        this.#log,
        await runFlagsOfStartTask(this.#o.repo),
        cfg2,
        `${runDir}/fastmta-2.log`,
      ], { cwd: this.#o.repo });
    } else {
      if (this.name === "fastmta-events") await this.#addWebhook(cfg);
      // exec: the PID we track is the Deno process itself (all its worker threads included)
      this.#proc = spawn("fastmta", "bash", [
        "-c",
        'exec "$0" run -A $4 "$1" serve --config "$2" >"$3" 2>&1',
        Deno.execPath(),
        this.#o.main,
        cfg,
        this.#log,
        await runFlagsOfStartTask(this.#o.repo),
      ], { cwd: this.#o.repo });
    }
    const proc = this.#proc;
    const greets = async () =>
      await smtpGreets(this.addr, 1_000) &&
      (!two || await smtpGreets(this.#listeners(2).smtp, 1_000));
    const ok = await waitFor(
      async () => proc.status.exited || await greets(),
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

  /** The fastmta processes: the one we spawned, or both children of the two-node bash. */
  #nodePids(): number[] {
    const root = this.#proc?.pid ?? 0;
    if (this.name !== "fastmta-distributed2") return [root];
    return processTree(root).filter((p) => p.ppid === root).map((p) => p.pid);
  }

  /** Whether the process is alive. */
  alive(): boolean {
    return !!this.#proc && !this.#proc.status.exited && readStat(this.#proc.pid) !== undefined;
  }

  /** CPU by thread; distributed mode adds database and broker counters (bench/distributed.ts). */
  componentStats(): Promise<Record<string, number>> {
    if (!this.#proc) return Promise.resolve({});
    return this.#backends
      ? componentStats(this.#backends, this.#nodePids())
      : Promise.resolve(threadCpu(this.#proc.pid));
  }

  /** Nothing to do: the retry schedule (1s, 2s, 5s) picks deferred messages up. */
  afterSinkUp(): Promise<void> {
    return Promise.resolve();
  }

  /** SIGTERM, then SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await this.#proc?.stop(15_000);
    await this.#backends?.drop();
    this.#backends = null;
    if (this.#receiver) {
      console.log(`    (webhook receiver got ${this.#receiver.events()} events)`);
      await this.#receiver.close();
      this.#receiver = null;
    }
  }

  /** The server's output for this run. */
  logHint(): string {
    return this.#log;
  }
}

/** Run flags of `deno task start` that change memory or speed (`--v8-flags=…`, `--no-code-cache`),
 * space-separated (none holds a space): the bench runs fastmta as users do. */
export async function runFlagsOfStartTask(repo: string): Promise<string> {
  const denoJson = JSON.parse(await Deno.readTextFile(`${repo}/deno.json`));
  const task = String(denoJson.tasks?.start ?? "");
  const v8 = task.match(/--v8-flags=\S+/)?.[0];
  if (!v8) throw new Error(`${repo}/deno.json: the start task has no --v8-flags`);
  return [...task.matchAll(/(?<=\s)--no-code-cache(?=\s)/g)].map((m) => m[0]).concat(v8).join(" ");
}
