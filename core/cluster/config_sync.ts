/**
 * Cluster-wide configuration edits. The file is the seed; edits are rows in `config_overrides`
 * (key as written in the file, e.g. `smtp.max_recipients`, value as JSON), shared by every node
 * through the database. After a write, a `ConfigEvent` on the broker's config fanout exchange
 * tells every node to re-read the table; each node also re-reads it every
 * `cluster.config_poll` (the fallback without a broker, or after a missed event). A node then
 * re-resolves seed + environment + overrides and applies the live settings in place
 * (core/cluster/live.ts); other keys apply at its next start.
 *
 * Node-local keys (identity, listen addresses, database and broker connection) cannot be
 * overridden cluster-wide: they stay per node in its file or environment.
 *
 * Talks to: the store, RabbitMQ (config exchange). Reads config: cluster.config_poll, rabbitmq.
 */
import { Buffer } from "node:buffer";
import { type Config, ConfigError, loadConfig } from "../config/mod.ts";
import { CONFIG_EVENT_VERSION, type ConfigEvent } from "../contracts/mod.ts";
import type { BrokerLink } from "../queue/broker.ts";
import { type BrokerSettings, brokerSettings } from "../queue/settings.ts";
import { applyLiveSettings } from "./live.ts";
import type { OverrideStore } from "../store/mod.ts";

/** Keys that belong to one node and are never taken from the shared overrides. */
const NODE_LOCAL = [
  "id",
  "name",
  "data_dir",
  "database",
  "rabbitmq",
  "ports",
  "ip_addressess",
  "ip_addresses",
  "smtp.listen",
  "admin.listen",
];

/** Stored overrides and their version (the latest write time; 0 when none were ever written). */
export interface Overrides {
  values: Record<string, unknown>;
  version: number;
}

/** Whether `key` may be overridden cluster-wide; an error message if not. */
export function checkOverrideKey(key: string): string | null {
  if (!/^[a-z_]+(\.[a-z_]+)*$/.test(key)) {
    return `Invalid key "${key}": expected e.g. "smtp.max_recipients"`;
  }
  const local = NODE_LOCAL.find((k) => key === k || key.startsWith(`${k}.`));
  if (local) return `Cannot override "${key}" cluster-wide: "${local}" is set per node`;
  return null;
}

/** Reads every override (removed ones are absent). */
export async function readOverrides(
  store: Pick<OverrideStore, "listOverrides">,
): Promise<Overrides> {
  const rows = await store.listOverrides();
  const values: Record<string, unknown> = {};
  let version = 0;
  for (const row of rows) {
    version = Math.max(version, row.updatedAt);
    if (row.value === null || checkOverrideKey(row.key) !== null) continue;
    try {
      values[row.key] = JSON.parse(row.value);
    } catch {
      // Never written by us; skip rather than stop the node.
    }
  }
  return { values, version };
}

/**
 * Validates and stores an override (`value` undefined removes it). The merged configuration
 * must be valid for `config`'s file, else a ConfigError names the problem and nothing is written.
 */
export async function writeOverride(
  store: OverrideStore,
  config: Config,
  change: { key: string; value: unknown; by: string },
): Promise<Overrides> {
  const problem = checkOverrideKey(change.key);
  if (problem) throw new ConfigError(problem);
  const current = await readOverrides(store);
  const next = { ...current.values };
  if (change.value === undefined) delete next[change.key];
  else next[change.key] = change.value;
  await loadConfig(config.source, Deno.env.toObject(), next); // throws ConfigError if invalid
  // Versions only grow, even if this node's clock is behind the last writer's.
  const at = Math.max(Date.now(), current.version + 1);
  await store.saveOverride({
    key: change.key,
    value: change.value === undefined ? null : JSON.stringify(change.value),
    updatedAt: at,
    updatedBy: change.by,
  });
  return { values: next, version: at };
}

/** Tells every node that overrides changed (one short connection; for the CLI). */
export async function broadcastConfigChange(
  settings: BrokerSettings,
  event: Omit<ConfigEvent, "v" | "type">,
): Promise<void> {
  const { default: amqp } = await import("amqplib");
  const model = await amqp.connect(settings.connect);
  try {
    const ch = await model.createConfirmChannel();
    await ch.assertExchange(settings.names.configExchange, "fanout", { durable: true });
    const body: ConfigEvent = { v: CONFIG_EVENT_VERSION, type: "config", ...event };
    ch.publish(
      settings.names.configExchange,
      "",
      Buffer.from(JSON.stringify(body)),
      { contentType: "application/json" },
    );
    await ch.waitForConfirms();
  } finally {
    await model.close().catch(() => {});
  }
}

/** Options for {@link ConfigSync}. */
export interface ConfigSyncOptions {
  log: (line: string) => void;
  /** Called after live settings changed, with the updated config and the changed keys. */
  onChange: (config: Config, changed: string[]) => void;
}

/** Keeps one node's live configuration in step with the stored overrides. */
export class ConfigSync {
  #store: OverrideStore;
  #config: Config;
  #options: ConfigSyncOptions;
  #link: BrokerLink | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #applied = "";
  #version = 0;
  #reloading: Promise<void> | null = null;
  #again = false;
  #reloadHooks: (() => void)[] = [];

  constructor(store: OverrideStore, config: Config, options: ConfigSyncOptions) {
    this.#store = store;
    this.#config = config;
    this.#options = options;
  }

  /** The overrides version applied here. */
  get version(): number {
    return this.#version;
  }

  /**
   * The configuration with every stored override applied (all keys, not only live ones): what
   * a node starts with. Call before handing the config to workers.
   */
  async effectiveConfig(): Promise<Config> {
    const overrides = await readOverrides(this.#store);
    this.#applied = JSON.stringify(overrides.values);
    this.#version = overrides.version;
    if (Object.keys(overrides.values).length === 0) return this.#config;
    try {
      this.#config = await loadConfig(this.#config.source, Deno.env.toObject(), overrides.values);
    } catch (error) {
      this.#options.log(`ignoring stored overrides: ${(error as Error).message}`);
    }
    return this.#config;
  }

  /** Subscribes to config events (if a broker is configured) and starts the poll. */
  async start(): Promise<void> {
    const settings = brokerSettings(this.#config);
    if (settings) {
      const { BrokerLink } = await import("../queue/broker.ts");
      this.#link = new BrokerLink(settings, {
        name: `fastmta ${this.#config.nodeId} config`,
        log: (line) => this.#options.log(line),
        setup: async (model) => {
          const ch = await model.createChannel();
          ch.on("error", () => {});
          const { queue } = await ch.assertQueue("", { exclusive: true, autoDelete: true });
          await ch.bindQueue(queue, settings.names.configExchange, "");
          await ch.consume(queue, () => this.reload(), { noAck: true });
          // Events sent while this node was disconnected are gone: look now.
          this.reload();
        },
      });
      await this.#link.start();
    }
    this.#timer = setInterval(() => this.reload(), this.#config.cluster.config_poll);
  }

  /**
   * Also calls `hook` on every reload (a config event, the poll): for the config objects' live
   * view (core/manage/live_view.ts), which shares the fanout.
   */
  onReload(hook: () => void): void {
    this.#reloadHooks.push(hook);
  }

  /** Re-reads the overrides and applies what changed (coalesces concurrent calls). */
  reload(): Promise<void> {
    for (const hook of this.#reloadHooks) hook();
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        try {
          await this.#reloadOnce();
        } catch (error) {
          this.#options.log(`cannot reload config overrides: ${(error as Error).message}`);
        }
      } while (this.#again);
    })().finally(() => this.#reloading = null);
    return this.#reloading;
  }

  async #reloadOnce() {
    const overrides = await readOverrides(this.#store);
    const key = JSON.stringify(overrides.values);
    this.#version = overrides.version;
    if (key === this.#applied) return;
    const next = await loadConfig(this.#config.source, Deno.env.toObject(), overrides.values);
    this.#applied = key;
    const changed = applyLiveSettings(this.#config, next);
    // Applied first, then reported: the line already obeys a changed log.level.
    this.#options.onChange(this.#config, changed);
    this.#options.log(
      `config overrides version ${overrides.version}: ${
        changed.length > 0 ? `applied ${changed.join(", ")}` : "no live setting changed"
      }`,
    );
  }

  /** Stores an override, applies it here and tells the other nodes. */
  async set(key: string, value: unknown): Promise<void> {
    await writeOverride(this.#store, this.#config, { key, value, by: this.#config.nodeId });
    await this.reload();
    const settings = brokerSettings(this.#config);
    if (settings) {
      await broadcastConfigChange(settings, {
        by: this.#config.nodeId,
        at: Date.now(),
        keys: [key],
      });
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#link?.close();
    await this.#reloading;
  }
}
