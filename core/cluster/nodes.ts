/**
 * Node registry: each node (`id`, `name` from the config) keeps a row in the shared database
 * and refreshes its heartbeat every `cluster.heartbeat_interval`; a node whose heartbeat is older
 * than `cluster.node_timeout` is shown as down. A clean shutdown marks the row stopped.
 *
 * Talks to: the store. Reads config: id, name, cluster.heartbeat_interval, cluster.node_timeout.
 */
import { hostname } from "node:os";
import type { NodeStore } from "../store/mod.ts";

/** What a node says about itself in its heartbeat (JSON in `nodes.info`). */
export interface NodeDetails {
  queue: "embedded" | "rabbitmq";
  smtp: string[];
  admin: string;
  /** The config overrides version this node has applied (0: none). */
  configVersion: number;
  /** The cluster config version (config objects, core/manage) this node has applied. */
  objectsVersion?: number;
  /** Listeners this node could not bind ("ip:port: reason"); the old state is kept. */
  listenerErrors?: string[];
  /** Units this node is delivering right now. */
  inFlight: number;
  /** How long the oldest unit this node holds has been held (ms; docs/watchdog.md). */
  oldestHeldMs?: number;
  /** Units the watchdog reported held past the bound since the node started. */
  heldTooLong?: number;
}

/** One node as listed by `main.ts nodes` and `GET /api/v1/nodes`. */
export interface NodeStatus {
  id: string;
  name: string;
  hostname: string | null;
  pid: number | null;
  startedAt: number;
  heartbeatAt: number;
  stoppedAt: number | null;
  /** Heartbeat younger than the node timeout and not stopped. */
  live: boolean;
  details: Partial<NodeDetails>;
}

/** Lists the registered nodes (live ones first, then by id). */
export async function listNodes(
  store: Pick<NodeStore, "listNodeRecords">,
  options: { now: number; timeoutMs: number },
): Promise<NodeStatus[]> {
  const rows = await store.listNodeRecords();
  const nodes = rows.map((row) => {
    let details: Partial<NodeDetails> = {};
    try {
      details = row.info ? JSON.parse(row.info) : {};
    } catch {
      // An unreadable info column only hides details.
    }
    const { heartbeatAt, stoppedAt } = row;
    return {
      id: row.id,
      name: row.name,
      hostname: row.hostname,
      pid: row.pid,
      startedAt: row.startedAt,
      heartbeatAt,
      stoppedAt,
      live: stoppedAt === null && options.now - heartbeatAt <= options.timeoutMs,
      details,
    };
  });
  return nodes.sort((a, b) => Number(b.live) - Number(a.live));
}

/** Keeps this node's row and heartbeat. */
export class NodeRegistry {
  #store: NodeStore;
  #id: string;
  #name: string;
  #intervalMs: number;
  #timeoutMs: number;
  #details: () => NodeDetails;
  #log: (line: string) => void;
  #timer: ReturnType<typeof setInterval> | null = null;
  #startedAt = Date.now();
  #beating = false;

  constructor(
    store: NodeStore,
    node: { id: string; name: string; intervalMs: number; timeoutMs: number },
    options: { details: () => NodeDetails; log: (line: string) => void },
  ) {
    this.#store = store;
    this.#id = node.id;
    this.#name = node.name;
    this.#intervalMs = node.intervalMs;
    this.#timeoutMs = node.timeoutMs;
    this.#details = options.details;
    this.#log = options.log;
  }

  /** Registers (or re-registers) this node and starts the heartbeat. */
  async start(): Promise<void> {
    const now = Date.now();
    const existing = await this.#store.nodeRecord(this.#id);
    if (
      existing && existing.stoppedAt === null &&
      now - existing.heartbeatAt <= this.#timeoutMs &&
      (existing.pid !== Deno.pid || existing.hostname !== hostname())
    ) {
      this.#log(
        `node id "${this.#id}" has a live heartbeat from ${existing.hostname} pid ${existing.pid}: ` +
          `two nodes share one id (or the previous run died less than ${this.#timeoutMs} ms ago)`,
      );
    }
    await this.#store.saveNode({
      id: this.#id,
      name: this.#name,
      hostname: hostname(),
      pid: Deno.pid,
      startedAt: this.#startedAt,
      heartbeatAt: now,
      stoppedAt: null,
      info: JSON.stringify(this.#details()),
    });
    this.#timer = setInterval(() => this.beat(), this.#intervalMs);
  }

  /** Writes one heartbeat now (also called by the timer). */
  async beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      const beat = await this.#store.nodeHeartbeat(
        this.#id,
        Date.now(),
        JSON.stringify(this.#details()),
      );
      if (!beat) {
        if (this.#timer) clearInterval(this.#timer);
        await this.start();
      }
    } catch (error) {
      this.#log(`cannot write heartbeat: ${(error as Error).message}`);
    } finally {
      this.#beating = false;
    }
  }

  /** Stops the heartbeat and marks the node stopped. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#store.markNodeStopped(this.#id, Deno.pid, Date.now())
      .catch((error) => this.#log(`cannot mark node stopped: ${(error as Error).message}`));
  }
}
