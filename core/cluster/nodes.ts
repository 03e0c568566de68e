/**
 * Node registry: each node (`id`, `name` from the config) keeps a row in the shared database
 * and refreshes its heartbeat every `cluster.heartbeat_interval`; a node whose heartbeat is older
 * than `cluster.node_timeout` is shown as down. A clean shutdown marks the row stopped.
 *
 * Talks to: the store. Reads config: id, name, cluster.heartbeat_interval, cluster.node_timeout.
 */
import { hostname } from "node:os";
import type { Kysely } from "kysely";
import type { ClusterTables } from "./tables.ts";

/** What a node says about itself in its heartbeat (JSON in `nodes.info`). */
export interface NodeDetails {
  queue: "embedded" | "rabbitmq";
  smtp: string[];
  admin: string;
  /** The config overrides version this node has applied (0: none). */
  configVersion: number;
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
  db: Kysely<ClusterTables>,
  options: { now: number; timeoutMs: number },
): Promise<NodeStatus[]> {
  const rows = await db.selectFrom("nodes").selectAll().orderBy("id").execute();
  const nodes = rows.map((row) => {
    let details: Partial<NodeDetails> = {};
    try {
      details = row.info ? JSON.parse(row.info) : {};
    } catch {
      // An unreadable info column only hides details.
    }
    const heartbeatAt = Number(row.heartbeat_at);
    const stoppedAt = row.stopped_at === null ? null : Number(row.stopped_at);
    return {
      id: row.id,
      name: row.name,
      hostname: row.hostname,
      pid: row.pid === null ? null : Number(row.pid),
      startedAt: Number(row.started_at),
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
  #db: Kysely<ClusterTables>;
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
    db: Kysely<ClusterTables>,
    node: { id: string; name: string; intervalMs: number; timeoutMs: number },
    options: { details: () => NodeDetails; log: (line: string) => void },
  ) {
    this.#db = db;
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
    const existing = await this.#db.selectFrom("nodes").selectAll()
      .where("id", "=", this.#id).executeTakeFirst();
    if (
      existing && existing.stopped_at === null &&
      now - Number(existing.heartbeat_at) <= this.#timeoutMs &&
      (existing.pid !== Deno.pid || existing.hostname !== hostname())
    ) {
      this.#log(
        `node id "${this.#id}" has a live heartbeat from ${existing.hostname} pid ${existing.pid}: ` +
          `two nodes share one id (or the previous run died less than ${this.#timeoutMs} ms ago)`,
      );
    }
    const row = {
      name: this.#name,
      hostname: hostname(),
      pid: Deno.pid,
      started_at: this.#startedAt,
      heartbeat_at: now,
      stopped_at: null,
      info: JSON.stringify(this.#details()),
    };
    const updated = await this.#db.updateTable("nodes").set(row).where("id", "=", this.#id)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await this.#db.insertInto("nodes").values({ id: this.#id, ...row }).execute();
    }
    this.#timer = setInterval(() => this.beat(), this.#intervalMs);
  }

  /** Writes one heartbeat now (also called by the timer). */
  async beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      const updated = await this.#db.updateTable("nodes")
        .set({ heartbeat_at: Date.now(), info: JSON.stringify(this.#details()), stopped_at: null })
        .where("id", "=", this.#id).executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
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
    await this.#db.updateTable("nodes").set({ stopped_at: Date.now() })
      .where("id", "=", this.#id).where("pid", "=", Deno.pid).execute()
      .catch((error) => this.#log(`cannot mark node stopped: ${(error as Error).message}`));
  }
}
