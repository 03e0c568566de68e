/**
 * The cluster tables (migrations/0005_cluster.ts): the node registry, the cluster-wide config
 * overrides, and the connection slots and rate windows of cluster-wide shaping. Each method is
 * one statement (or an update with an insert when no row matched); the policies around them
 * (heartbeats, override validation, slot renewal) live in core/cluster/.
 */
import { numberOrNull, type SqlContext } from "./_sql.ts";
import type { NodesTable } from "./tables.ts";

/** A node's row (`nodes`); `info` is the JSON it reports about itself. */
export interface NodeRecord {
  id: string;
  name: string;
  hostname: string | null;
  pid: number | null;
  startedAt: number;
  heartbeatAt: number;
  stoppedAt: number | null;
  info: string | null;
}

/** The node registry (core/cluster/nodes.ts). */
export interface NodeStore {
  /** Every registered node, by id. */
  listNodeRecords(): Promise<NodeRecord[]>;
  /** One node, or null. */
  nodeRecord(id: string): Promise<NodeRecord | null>;
  /** Writes a node's row, creating it when there is none. */
  saveNode(node: NodeRecord): Promise<void>;
  /** Writes a heartbeat (and clears `stopped_at`); false when the node has no row. */
  nodeHeartbeat(id: string, at: number, info: string): Promise<boolean>;
  /** Marks the node stopped, if its row is still this process's (`pid`). */
  markNodeStopped(id: string, pid: number, at: number): Promise<void>;
}

/** A stored config override; `value` is JSON, null for a removed override. */
export interface OverrideRecord {
  key: string;
  value: string | null;
  updatedAt: number;
  updatedBy: string | null;
}

/** The cluster-wide config overrides (core/cluster/config_sync.ts). */
export interface OverrideStore {
  /** Every stored override (removed ones included, as null), by key. */
  listOverrides(): Promise<OverrideRecord[]>;
  /** Writes an override, creating its row when there is none. */
  saveOverride(override: OverrideRecord): Promise<void>;
}

/** One connection slot of a site, held by `holder` until `expiresAt`. */
export interface SlotRecord {
  site: string;
  slot: number;
  holder: string;
  expiresAt: number;
}

/** Connection slots and send windows of cluster-wide shaping (core/cluster/shaping.ts). */
export interface ClusterLimitStore {
  /** The site's slots numbered below `below`, with their expiry. */
  siteSlots(site: string, below: number): Promise<{ slot: number; expiresAt: number }[]>;
  /** Takes a free slot; false when another holder inserted it first. */
  insertSlot(slot: SlotRecord): Promise<boolean>;
  /** Takes a slot that expired before `now`; false when it did not (any more). */
  takeExpiredSlot(slot: SlotRecord, now: number): Promise<boolean>;
  /** Gives a slot back, if `holder` still holds it. */
  deleteSlot(slot: { site: string; slot: number; holder: string }): Promise<void>;
  /** Extends the slots of `holders` to `expiresAt`; returns the holders that still hold one. */
  renewSlots(holders: string[], expiresAt: number): Promise<string[]>;
  /** Adds `n` sends to the site's window if that keeps it within `limit`; false if not. */
  addSends(site: string, window: number, n: number, limit: number): Promise<boolean>;
  /** Whether the site's window has a row. */
  rateWindowExists(site: string, window: number): Promise<boolean>;
  /** Opens the site's window with `n` sends; false when another node opened it first. */
  openRateWindow(site: string, window: number, n: number): Promise<boolean>;
  /** Deletes windows that started before `before`. */
  pruneRateWindows(before: number): Promise<void>;
}

/** The cluster tables together. */
export type ClusterStore = NodeStore & OverrideStore & ClusterLimitStore;

function nodeOf(row: NodesTable): NodeRecord {
  return {
    id: row.id,
    name: row.name,
    hostname: row.hostname,
    pid: numberOrNull(row.pid),
    startedAt: Number(row.started_at),
    heartbeatAt: Number(row.heartbeat_at),
    stoppedAt: numberOrNull(row.stopped_at),
    info: row.info,
  };
}

function nodeRepository({ db }: SqlContext): NodeStore {
  return {
    listNodeRecords: async () =>
      (await db.selectFrom("nodes").selectAll().orderBy("id").execute()).map(nodeOf),
    nodeRecord: async (id) => {
      const row = await db.selectFrom("nodes").selectAll().where("id", "=", id)
        .executeTakeFirst();
      return row ? nodeOf(row) : null;
    },
    saveNode: async (node) => {
      const row = {
        name: node.name,
        hostname: node.hostname,
        pid: node.pid,
        started_at: node.startedAt,
        heartbeat_at: node.heartbeatAt,
        stopped_at: node.stoppedAt,
        info: node.info,
      };
      const updated = await db.updateTable("nodes").set(row).where("id", "=", node.id)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        await db.insertInto("nodes").values({ id: node.id, ...row }).execute();
      }
    },
    nodeHeartbeat: async (id, at, info) => {
      const updated = await db.updateTable("nodes")
        .set({ heartbeat_at: at, info, stopped_at: null })
        .where("id", "=", id).executeTakeFirst();
      return Number(updated.numUpdatedRows) > 0;
    },
    markNodeStopped: async (id, pid, at) => {
      await db.updateTable("nodes").set({ stopped_at: at })
        .where("id", "=", id).where("pid", "=", pid).execute();
    },
  };
}

function overrideRepository({ db }: SqlContext): OverrideStore {
  return {
    listOverrides: async () => {
      const rows = await db.selectFrom("config_overrides").selectAll().orderBy("key").execute();
      return rows.map((r) => ({
        key: r.key,
        value: r.value,
        updatedAt: Number(r.updated_at),
        updatedBy: r.updated_by,
      }));
    },
    saveOverride: async (override) => {
      const row = {
        value: override.value,
        updated_at: override.updatedAt,
        updated_by: override.updatedBy,
      };
      const updated = await db.updateTable("config_overrides").set(row)
        .where("key", "=", override.key).executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        await db.insertInto("config_overrides").values({ key: override.key, ...row }).execute();
      }
    },
  };
}

function slotRepository({ db }: SqlContext) {
  return {
    siteSlots: async (site: string, below: number) => {
      const rows = await db.selectFrom("cluster_slots").select(["slot", "expires_at"])
        .where("site", "=", site).where("slot", "<", below).execute();
      return rows.map((r) => ({ slot: Number(r.slot), expiresAt: Number(r.expires_at) }));
    },
    insertSlot: async (slot: SlotRecord) => {
      try {
        await db.insertInto("cluster_slots")
          .values({
            site: slot.site,
            slot: slot.slot,
            holder: slot.holder,
            expires_at: slot.expiresAt,
          })
          .execute();
        return true;
      } catch {
        return false; // taken meanwhile by another node
      }
    },
    takeExpiredSlot: async (slot: SlotRecord, now: number) => {
      const result = await db.updateTable("cluster_slots")
        .set({ holder: slot.holder, expires_at: slot.expiresAt })
        .where("site", "=", slot.site).where("slot", "=", slot.slot)
        .where("expires_at", "<", now)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    deleteSlot: async (slot: { site: string; slot: number; holder: string }) => {
      await db.deleteFrom("cluster_slots")
        .where("site", "=", slot.site).where("slot", "=", slot.slot)
        .where("holder", "=", slot.holder).execute();
    },
    renewSlots: async (holders: string[], expiresAt: number) => {
      await db.updateTable("cluster_slots").set({ expires_at: expiresAt })
        .where("holder", "in", holders).execute();
      const rows = await db.selectFrom("cluster_slots").select("holder")
        .where("holder", "in", holders).execute();
      return rows.map((r) => r.holder);
    },
  };
}

function rateRepository({ db }: SqlContext) {
  return {
    addSends: async (site: string, window: number, n: number, limit: number) => {
      const result = await db.updateTable("cluster_rate")
        .set((eb) => ({ used: eb("used", "+", n) }))
        .where("site", "=", site).where("window_start", "=", window)
        .where((eb) => eb(eb("used", "+", n), "<=", limit))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    rateWindowExists: async (site: string, window: number) => {
      const row = await db.selectFrom("cluster_rate").select("used")
        .where("site", "=", site).where("window_start", "=", window).executeTakeFirst();
      return row !== undefined;
    },
    openRateWindow: async (site: string, window: number, n: number) => {
      try {
        await db.insertInto("cluster_rate").values({ site, window_start: window, used: n })
          .execute();
        return true;
      } catch {
        return false; // another node opened the window first
      }
    },
    pruneRateWindows: async (before: number) => {
      await db.deleteFrom("cluster_rate").where("window_start", "<", before).execute();
    },
  };
}

/** The cluster tables on one database. */
export function clusterRepository(ctx: SqlContext): ClusterStore {
  return {
    ...nodeRepository(ctx),
    ...overrideRepository(ctx),
    ...slotRepository(ctx),
    ...rateRepository(ctx),
  };
}
