/**
 * What `GET /readyz` checks on this node: the database answers (a cheap query, at most once a
 * second), the queue backend is connected (the broker, in RabbitMQ mode), every listener is
 * served by a running worker, and the data folder takes a write and has room. A load balancer
 * or orchestrator stops sending work to a node that is not ready; details never carry secrets
 * (they go through the logger's redaction).
 */
import { statfsSync } from "node:fs";
import type { ReadyCheck } from "../core/api/schemas.ts";
import type { Config } from "../core/config/mod.ts";
import { redact } from "../core/log.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { withTimeout } from "../core/timeout.ts";
import type { WorkerHandle } from "./supervisor.ts";

/** Below this much free space the data folder is not ready (spool, SQLite, TLS files). */
export const MIN_FREE_BYTES = 64 * 1024 * 1024;

/** What the checks read from the running node. */
export interface ReadinessParts {
  config(): Config;
  store(): SqlStore | undefined;
  queue(): { kind: string; ready: boolean } | undefined;
  smtpWorkers(): WorkerHandle[];
  otherWorkers(): WorkerHandle[];
  /** What the SMTP workers reported they could not bind ("host:port: error"). */
  listenerProblems?(): string[];
}

/** A running node's parts, read when asked (cli/serve.ts's NodeParts). */
export interface NodeView {
  readonly config: Config;
  readonly store?: SqlStore;
  readonly queue?: { kind: string; ready: boolean };
  readonly smtpWorkers: WorkerHandle[];
  readonly otherWorkers: WorkerHandle[];
  readonly listenerProblems: Map<number, string[]>;
}

/** The checks of a running node. */
export function nodeReadiness(node: NodeView): () => Promise<ReadyCheck[]> {
  return readinessChecks({
    config: () => node.config,
    store: () => node.store,
    queue: () => node.queue,
    smtpWorkers: () => node.smtpWorkers,
    otherWorkers: () => node.otherWorkers,
    listenerProblems: () => [...node.listenerProblems.values()].flat(),
  });
}

/** Runs every check; each says what it found. */
export function readinessChecks(parts: ReadinessParts): () => Promise<ReadyCheck[]> {
  let lastQuery = 0;
  let slow = false;
  return async () => {
    const config = parts.config();
    const checks: ReadyCheck[] = [];
    const store = parts.store();
    if (store && Date.now() - lastQuery >= 1000) {
      lastQuery = Date.now();
      // Through the store's connection monitor: a failure marks the database away; a query
      // that hangs past the bound is not ready either (the monitor's own bound may be longer).
      slow = await withTimeout(store.listMessages({ limit: 1 }), 2_000).then(
        () => false,
        (error) => (error as Error).message.startsWith("timed out"),
      );
    }
    checks.push(databaseCheck(store, config, slow));
    const queue = parts.queue();
    checks.push({
      name: "queue",
      ok: queue?.ready ?? false,
      detail: !queue
        ? "not open yet"
        : queue.ready
        ? `${queue.kind} ready`
        : `${queue.kind}: broker not connected`,
    });
    const smtp = parts.smtpWorkers();
    const alive = smtp.filter((w) => w.alive()).length;
    const problems = parts.listenerProblems?.() ?? [];
    for (const l of config.smtp.listeners) {
      const address = `${l.host}:${l.port}`;
      const problem = problems.find((p) => p.includes(address));
      checks.push({
        name: `listener smtp ${address}`,
        ok: alive > 0 && problem === undefined,
        detail: problem ?? `${alive} of ${config.smtp.workers} SMTP workers serving it`,
      });
    }
    for (const w of parts.otherWorkers()) {
      checks.push({
        name: `worker ${w.kind}-${w.index}`,
        ok: w.alive(),
        detail: w.alive() ? "running" : "restarting",
      });
    }
    checks.push(await dataDirCheck(config.dataDir));
    return checks.map((c) => ({ ...c, detail: redact(c.detail) }));
  };
}

function databaseCheck(store: SqlStore | undefined, config: Config, slow: boolean): ReadyCheck {
  const name = "database";
  if (!store) return { name, ok: false, detail: "not open yet" };
  const health = store.health();
  if (health.ok && slow) {
    return { name, ok: false, detail: `${config.database.driver}: no answer within 2 s` };
  }
  return {
    name,
    ok: health.ok,
    detail: health.ok
      ? `${config.database.driver} answers`
      : `${config.database.driver}: ${health.error ?? "unreachable"}`,
  };
}

/** The data folder takes a write (create, fsync, remove) and has `minFree` bytes free. */
export async function dataDirCheck(dir: string, minFree = MIN_FREE_BYTES): Promise<ReadyCheck> {
  const name = "data_dir";
  const probe = `${dir}/.ready-probe-${crypto.randomUUID()}`;
  try {
    const file = await Deno.open(probe, { write: true, createNew: true });
    try {
      await file.write(new Uint8Array(512));
      await file.sync();
    } finally {
      file.close();
      await Deno.remove(probe).catch(() => {});
    }
    const fs = statfsSync(dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    const mib = Math.floor(free / 1024 / 1024);
    return free < minFree
      ? {
        name,
        ok: false,
        detail: `only ${mib} MiB free (needs ${Math.ceil(minFree / 2 ** 20)} MiB)`,
      }
      : { name, ok: true, detail: `writable, ${mib} MiB free` };
  } catch (error) {
    return { name, ok: false, detail: `cannot write: ${(error as Error).message}` };
  }
}
