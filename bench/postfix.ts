/**
 * Postfix as the comparison MTA: configured by the shared (read-only) `postfix-relay.sh` as a
 * loopback relay (listener on its own port, relayhost = the sink, DNS off), started fresh with an
 * empty queue for every run and stopped afterwards (also on error/SIGINT via the cleanup registry).
 */
import type { Server } from "./server.ts";
import { cleanup, run, sleep, smtpGreets, splitHostPort, waitFor } from "./util.ts";
import { processTree, readStat } from "./procstat.ts";

/** Default location of the shared configuration script. */
export const POSTFIX_SCRIPT = "/work/shared/bench/postfix-relay.sh";
/** Lock serialising bench runs that use the machine's (single) Postfix. */
export const LOCK_FILE = "/tmp/fastmta-bench-postfix.lock";
/** smtp-source path (installed with Postfix on Debian). */
export const SMTP_SOURCE = "/usr/sbin/smtp-source";

/** True if the `postfix` command and smtp-source are installed. */
export function postfixInstalled(): boolean {
  for (const p of ["/usr/sbin/postfix", SMTP_SOURCE]) {
    try {
      Deno.statSync(p);
    } catch {
      return false;
    }
  }
  return true;
}

/** Postfix relay under test. */
export class PostfixServer implements Server {
  /** System name in reports. */
  readonly name = "postfix";
  /** SMTP listener (host:port). */
  readonly addr: string;
  /** "Postfix 3.7.11" once configured. */
  version = "Postfix";
  #sinkAddr: string;
  #script: string;
  #master = 0;
  #queueDir = "/var/spool/postfix";
  #unregister: (() => void) | undefined;

  /**
   * @param addr Postfix's SMTP listener (the script's LISTEN).
   * @param sinkAddr the sink, used as relayhost (SINK_HOST/SINK_PORT).
   * @param script path of postfix-relay.sh.
   */
  constructor(addr: string, sinkAddr: string, script = POSTFIX_SCRIPT) {
    this.addr = addr;
    this.#sinkAddr = sinkAddr;
    this.#script = script;
  }

  /**
   * Installs (apt, only if missing) and configures Postfix via the shared script; stops an
   * already-running Postfix first (its config is about to be rewritten).
   */
  async setup(log: (s: string) => void): Promise<void> {
    try {
      Deno.statSync(this.#script);
    } catch {
      throw new Error(`${this.#script} not found (needed for --vs-postfix)`);
    }
    await this.#lock(log);
    if (await this.#running()) {
      log("postfix: an instance is running; stopping it before reconfiguring");
      await this.#postfix(["stop"]);
      await waitFor(async () => !(await this.#running()), 30_000, 200);
    }
    // registered first, so it runs last: catches a `postfix start` that raced an abort
    cleanup.add("postfix stop (final check)", async () => {
      if (await this.#running()) await run("postfix", ["stop"], { timeoutMs: 60_000 });
    });
    const sink = splitHostPort(this.#sinkAddr);
    const res = await run("bash", [this.#script], {
      env: { LISTEN: this.addr, SINK_HOST: sink.host, SINK_PORT: String(sink.port) },
      timeoutMs: 900_000,
    });
    if (res.code !== 0) {
      throw new Error(`postfix-relay.sh failed (${res.code}): ${res.stderr.trim() || res.stdout}`);
    }
    this.#queueDir = (await run("postconf", ["-h", "queue_directory"])).stdout.trim() ||
      this.#queueDir;
    this.version = `Postfix ${(await run("postconf", ["-h", "mail_version"])).stdout.trim()}`;
    log(`postfix: ${res.stdout.trim().split("\n").pop()}`);
  }

  /**
   * Postfix is one per machine: concurrent bench runs with --vs-postfix would reconfigure and stop
   * each other's instance. Take an exclusive lock (held until this process exits), waiting at most
   * 20 minutes.
   */
  async #lock(log: (s: string) => void): Promise<void> {
    const file = await Deno.open(LOCK_FILE, { create: true, write: true });
    const deadline = Date.now() + 20 * 60_000;
    let told = false;
    while (!(await file.tryLock(true))) {
      if (Date.now() > deadline) {
        file.close();
        throw new Error(`another bench run holds ${LOCK_FILE} (Postfix busy) for over 20 min`);
      }
      if (!told) log(`postfix: another bench run is using Postfix; waiting for ${LOCK_FILE}`);
      told = true;
      await sleep(1_000);
    }
    cleanup.add("release postfix lock", () => file.close());
  }

  async #running(): Promise<boolean> {
    try {
      return (await run("postfix", ["status"], { timeoutMs: 30_000 })).code === 0;
    } catch {
      return false;
    }
  }

  async #postfix(args: string[]): Promise<void> {
    const res = await run("postfix", args, { timeoutMs: 60_000 });
    if (res.code !== 0) {
      throw new Error(`postfix ${args.join(" ")}: ${res.stderr.trim() || res.stdout.trim()}`);
    }
  }

  /** Empties the queue, starts Postfix and waits until it greets on `addr`. */
  async start(_runDir: string): Promise<void> {
    await run("postsuper", ["-d", "ALL"], { timeoutMs: 300_000 });
    this.#unregister = cleanup.add("postfix stop", () => this.stop());
    await this.#postfix(["start"]);
    const pidFile = `${this.#queueDir}/pid/master.pid`;
    const gotPid = await waitFor(
      () => {
        try {
          this.#master = Number(Deno.readTextFileSync(pidFile).trim());
          return this.#master > 0 && readStat(this.#master) !== undefined;
        } catch {
          return false;
        }
      },
      30_000,
      50,
    );
    if (!gotPid) throw new Error(`postfix: no master pid in ${pidFile}`);
    if (!(await waitFor(() => smtpGreets(this.addr, 1_000), 30_000, 100))) {
      throw new Error(`postfix: no SMTP greeting on ${this.addr}`);
    }
  }

  /** The master process: every Postfix daemon is in its process tree. */
  rootPid(): number {
    return this.#master;
  }

  /** Whether the master is alive. */
  alive(): boolean {
    return this.#master > 0 && readStat(this.#master) !== undefined;
  }

  /** Deferred mail waits for its retry time; flush it now that the sink is up. */
  async afterSinkUp(): Promise<void> {
    await run("postqueue", ["-f"], { timeoutMs: 60_000 });
  }

  /** Realistic scenario: deferred mail is retried now, not after Postfix's 300 s backoff. */
  async retryNow(): Promise<void> {
    await run("postqueue", ["-f"], { timeoutMs: 60_000 });
  }

  /** Stops Postfix (`postfix stop`, then `postfix abort`/SIGKILL if it lingers), bounded. */
  async stop(): Promise<void> {
    this.#unregister?.();
    this.#unregister = undefined;
    const master = this.#master;
    if (!master) return;
    const tree = processTree(master);
    await run("postfix", ["stop"], { timeoutMs: 60_000 }).catch(() => undefined);
    if (!(await waitFor(() => readStat(master) === undefined, 30_000, 100))) {
      await run("postfix", ["abort"], { timeoutMs: 30_000 }).catch(() => undefined);
      await sleep(1_000);
    }
    // leftovers of the tree we saw (same pid and same command name, so never a recycled pid)
    for (const p of tree) {
      if (readStat(p.pid)?.comm === p.comm) {
        try {
          Deno.kill(p.pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
    this.#master = 0;
  }

  /** Where Postfix logs (postlogd, set by the script). */
  logHint(): string {
    return "/var/log/postfix-bench.log";
  }
}
