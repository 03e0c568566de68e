/**
 * The delivery side of fastmta in-process, for tests: a temp SQLite store, the scheduler, the
 * site dispatcher and one DeliveryRunner (what a delivery worker runs), plus helpers to inject
 * messages and wait for recipient states and attempt rows. Everything is stopped by `close()`
 * (or `await using`).
 *
 * @module
 */
import { EmbeddedQueue } from "../../core/queue/embedded.ts";
import { type Config, parseConfig } from "../../core/config/mod.ts";
import {
  type CheckedRule,
  type DelivererChoice,
  DeliveryRunner,
  type ScreenHook,
} from "../../core/delivery/mod.ts";
import type { ClusterShaper } from "../../core/cluster/shaping.ts";
import { Scheduler } from "../../core/schedule/mod.ts";
import { RulesWatcher } from "../../core/schedule/rules.ts";
import { type MessageStatus, openStore, type SqlStore } from "../../core/store/mod.ts";
import { newQueueId } from "../../core/accept/mod.ts";
import { waitUntil } from "./wait.ts";

/** One row of the `attempts` table, as the store reports it in a message status. */
export type AttemptRow = MessageStatus["attempts"][number];

/** A message to inject. */
export interface TestMessage {
  from?: string;
  to: string[];
  /** Extra header lines ("Name: value"). */
  headers?: string[];
  body?: string;
  meta?: Record<string, unknown>;
}

/** A running in-process delivery engine. */
export interface DeliveryEngine extends AsyncDisposable {
  config: Config;
  store: SqlStore;
  runner: DeliveryRunner;
  /** Stores a message and wakes the scheduler; returns its id. */
  send(message: TestMessage): Promise<string>;
  /** Recipient states of a message. */
  states(messageId: string): Promise<Record<string, string>>;
  /** Waits until every recipient of the message is in one of `states`. */
  waitForStates(messageId: string, states: string[], timeoutMs?: number): Promise<void>;
  /** Attempt rows of a message, oldest first. */
  attempts(messageId: string): Promise<AttemptRow[]>;
  /** The queue row of a message's first unit. */
  unit(messageId: string): Promise<{ attempts: number; due_at: number; held: string | null }>;
  /** Stores a shaping rule and applies the stored set now (what a reload does). */
  putRule(pattern: string, rule: unknown): Promise<void>;
  deleteRule(pattern: string): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startDeliveryEngine}: what the runner is built with. */
export interface DeliveryEngineOptions {
  rules?: CheckedRule[];
  log?: boolean;
  shaper?: ClusterShaper;
  /** [bounce hook] a suppression screen. */
  screen?: ScreenHook;
  /** Default: SMTP. */
  deliverer?: DelivererChoice;
}

/** Starts an engine on `config` (a raw config object; the database goes to a temp dir). */
export async function startDeliveryEngine(
  raw: Record<string, unknown>,
  options: DeliveryEngineOptions = {},
): Promise<DeliveryEngine> {
  const dir = await Deno.makeTempDir({ prefix: "fastmta-delivery-" });
  const config = parseConfig({
    ...raw,
    data_dir: dir,
    database: { driver: "sqlite3", connection: `${dir}/fastmta.db` },
  });
  const store = await openStore(config, "deliver");
  await store.migrate();
  const log = (line: string) => {
    if (options.log) console.error(line);
  };
  // deno-lint-ignore prefer-const
  let scheduler: Scheduler;
  const runner = new DeliveryRunner(config, store, {
    rules: options.rules,
    shaper: options.shaper,
    screen: options.screen,
    deliverer: options.deliverer,
    onSettled: (_count, tokens, _requeue, unitIds) => scheduler.settled(tokens, unitIds),
    log,
  });
  scheduler = new Scheduler(
    new EmbeddedQueue(config, store),
    config,
    (units) => runner.submit(units),
    log,
  );
  const watcher = new RulesWatcher(store, 3_600_000, (rules) => runner.setRules(rules), log);
  await watcher.reload();
  await scheduler.start();

  let closed: Promise<void> | null = null;
  const engine: DeliveryEngine = {
    config,
    store,
    runner,
    async send(message) {
      const id = newQueueId();
      const lines = [
        `From: <${message.from ?? "sender@origin.test"}>`,
        `To: ${message.to.map((t) => `<${t}>`).join(", ")}`,
        `Subject: test ${id}`,
        `Message-ID: <${id}@origin.test>`,
        ...(message.headers ?? []),
        "",
        message.body ?? `Hello ${id}.`,
        "",
      ];
      const now = Date.now();
      await store.insertMessages([{
        id,
        sender: message.from ?? "sender@origin.test",
        recipients: message.to,
        channel: "cli",
        clientIp: null,
        receivedAt: now,
        body: new TextEncoder().encode(lines.join("\r\n")),
        meta: message.meta,
      }]);
      scheduler.wake();
      return id;
    },
    async states(messageId) {
      const rows = await store.db.selectFrom("recipients").select(["address", "state"])
        .where("message_id", "=", messageId).execute();
      return Object.fromEntries(rows.map((r) => [r.address, r.state]));
    },
    async waitForStates(messageId, states, timeoutMs = 20_000) {
      await waitUntil(async () => {
        const current = Object.values(await engine.states(messageId));
        return current.length > 0 && current.every((s) => states.includes(s));
      }, { timeoutMs, message: `recipients of ${messageId} in ${states.join("/")}` });
    },
    async attempts(messageId) {
      const rows = await store.db.selectFrom("attempts").selectAll()
        .where("message_id", "=", messageId).orderBy("id").execute();
      return rows.map((r) => ({
        at: Number(r.at),
        recipient: r.recipient,
        outcome: r.outcome,
        code: r.code === null ? null : Number(r.code),
        reply: r.reply,
        source_ip: r.source_ip,
        mx_host: r.mx_host,
        remote_ip: r.remote_ip,
        tls: Number(r.tls),
        tls_version: r.tls_version,
        tls_verified: Number(r.tls_verified),
        reason: r.reason,
        site: r.site,
        pool: r.pool,
        duration_ms: Number(r.duration_ms),
        node_id: r.node_id,
      }));
    },
    async unit(messageId) {
      const row = await store.db.selectFrom("queue").select(["attempts", "due_at", "held"])
        .where("message_id", "=", messageId).executeTakeFirstOrThrow();
      return { attempts: Number(row.attempts), due_at: Number(row.due_at), held: row.held };
    },
    async putRule(pattern, rule) {
      await store.putShapingRule(pattern, rule, Date.now());
      await watcher.reload();
      scheduler.wake();
    },
    async deleteRule(pattern) {
      await store.deleteShapingRule(pattern);
      await watcher.reload();
      scheduler.wake();
    },
    close() {
      closed ??= (async () => {
        await scheduler.stop();
        watcher.stop();
        await runner.drain();
        await runner.close();
        await store.close();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return closed;
    },
    [Symbol.asyncDispose]() {
      return engine.close();
    },
  };
  return engine;
}
