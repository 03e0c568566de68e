/**
 * The cluster's shared-database mechanisms, with two "nodes" as two separate store connections
 * to one database: cluster-wide connection slots and send rate (core/cluster/shaping.ts), the
 * node registry, and config overrides reaching another node's live config.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { waitUntil } from "./helpers/wait.ts";
import {
  createTestDatabase,
  type TestDatabaseKind,
  testDatabaseKinds,
} from "./helpers/databases.ts";
import { type Config, parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import { type SiteSlot, SqlShaper } from "../core/cluster/shaping.ts";
import { ConfigSync } from "../core/cluster/config_sync.ts";
import { listNodes, NodeRegistry } from "../core/cluster/nodes.ts";

interface TwoNodes extends AsyncDisposable {
  configs: Config[];
  stores: SqlStore[];
}

/** Two nodes' store connections to one fresh database of `kind`. */
async function twoNodes(kind: TestDatabaseKind): Promise<TwoNodes> {
  const database = await createTestDatabase(kind);
  const dir = tempDir("fastmta-clusterdb-");
  const configFile = `${dir.path}/config.json`;
  const file = {
    database: { driver: kind, connection: database.connection, pool_size: 4 },
    smtp: { max_recipients: 50 },
  };
  await Deno.writeTextFile(configFile, JSON.stringify(file));
  const configs = ["a", "b"].map((id) =>
    parseConfig({ ...file, id, data_dir: dir.path, cluster: { config_poll: "1h" } }, configFile)
  );
  const stores: SqlStore[] = [];
  for (const config of configs) stores.push(await openStore(config, "deliver", { log: () => {} }));
  await stores[0].migrate();
  return {
    configs,
    stores,
    async [Symbol.asyncDispose]() {
      for (const store of stores) await store.close();
      await database.drop();
      await dir[Symbol.asyncDispose]();
    },
  };
}

for (const kind of testDatabaseKinds()) {
  Deno.test(`cluster shaping: connection slots hold for all nodes together (${kind})`, async () => {
    await using n = await twoNodes(kind);
    const [a, b] = n.stores.map((s, i) => new SqlShaper(s, { owner: `node-${i}`, ttlMs: 60_000 }));
    try {
      // Both nodes want 5 connections to a site limited to 3 cluster-wide, at the same time.
      const attempts = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const shaper = i % 2 ? a : b;
          return { shaper, slot: await shaper.acquireConnection("site.test", 3) };
        }),
      );
      const held = attempts.filter((x) => x.slot !== null);
      assertEquals(held.length, 3);
      assertEquals(new Set(held.map((x) => x.slot!.slot)).size, 3);
      assertEquals(await a.acquireConnection("site.test", 3), null);
      // Another site has its own slots.
      assert(await b.acquireConnection("other.test", 3));

      // A released slot can be taken by the other node.
      await held[0].shaper.releaseConnection(held[0].slot!);
      assert(await a.acquireConnection("site.test", 3));
      assertEquals(await b.acquireConnection("site.test", 3), null);
    } finally {
      await a.close();
      await b.close();
    }
  });

  Deno.test(`cluster shaping: a dead node's slot expires; a holder that lost its slot is told (${kind})`, async () => {
    await using n = await twoNodes(kind);
    const db = n.stores[0].db;
    const a = new SqlShaper(n.stores[0], { owner: "node-a", ttlMs: 60_000 });
    const b = new SqlShaper(n.stores[1], { owner: "node-b", ttlMs: 60_000 });
    try {
      // A node that died holding the only slot: its lease ran out a moment ago.
      await db.insertInto("cluster_slots")
        .values({ site: "s.test", slot: 0, holder: "dead/1", expires_at: Date.now() - 1 })
        .execute();
      let lost: SiteSlot | null = null;
      const slot = await a.acquireConnection("s.test", 1, (s) => lost = s);
      assert(slot, "the expired slot is taken over");
      assertEquals(await b.acquireConnection("s.test", 1), null);
      // Someone takes it over (as if our renewals had stopped): the next renewal reports it.
      await db.updateTable("cluster_slots").set({ holder: "other/2" }).where("site", "=", "s.test")
        .execute();
      await a.renew();
      assert(lost !== null && (lost as SiteSlot).lost, "onLost called");
    } finally {
      await a.close();
      await b.close();
    }
  });

  // Not on SQLite: node:sqlite waits for a lock synchronously, blocking this whole thread (both
  // "nodes" here); and a cluster on SQLite keeps its limits per node (openShaper), not in SQL.
  Deno.test({
    name: `cluster shaping: a renewal that hangs gives the slot up before it can expire (${kind})`,
    ignore: kind === "sqlite3",
  }, async () => {
    await using n = await twoNodes(kind);
    const ttlMs = 6_000;
    const a = new SqlShaper(n.stores[0], { owner: "node-a", ttlMs });
    try {
      let lostAt = 0;
      const acquiredAt = Date.now();
      assert(await a.acquireConnection("hang.test", 1, () => lostAt = Date.now()));
      // Another connection holds the row: node a's renewal waits for it (or fails).
      await n.stores[1].db.transaction().execute(async (trx) => {
        await trx.updateTable("cluster_slots").set({ slot: 0 }).where("site", "=", "hang.test")
          .execute();
        await waitUntil(() => lostAt > 0, { timeoutMs: 2 * ttlMs, message: "slot given up" });
      });
      // Given up more than ttl/3 before the row expires (1 s of that allowed for timer delays).
      const margin = acquiredAt + ttlMs - lostAt;
      assert(margin >= ttlMs / 6, `given up only ${margin} ms before the row expires`);
    } finally {
      await a.close();
    }
  });

  Deno.test(`cluster shaping: the send rate is shared by all nodes (${kind})`, async () => {
    await using n = await twoNodes(kind);
    const [a, b] = n.stores.map((s, i) => new SqlShaper(s, { owner: `n${i}` }));
    try {
      const rate = { limit: 10, windowMs: 3_600_000 };
      const window = () => Math.floor(Date.now() / rate.windowMs);
      // Retry the round if it straddled a window edge (once an hour).
      let granted = 0;
      for (let round = 0; round < 2; round++) {
        const before = window();
        const site = `rate${round}.test`;
        const grants = await Promise.all(
          Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).takeSends(site, 1, rate)),
        );
        granted = grants.filter((g) => g.ok).length;
        const refused = grants.find((g) => !g.ok);
        if (window() !== before) continue;
        assert(refused && !refused.ok && refused.retryAt === (before + 1) * rate.windowMs);
        break;
      }
      assertEquals(granted, 10);
      assertEquals((await a.takeSends("rate-big.test", 11, rate)).ok, false, "n above the limit");
      // Windows that ended long ago are deleted; the current ones stay.
      const db = n.stores[0].db;
      await db.insertInto("cluster_rate")
        .values({ site: "old.test", window_start: Date.now() - 3 * 86_400_000, used: 5 }).execute();
      await b.prune();
      const sites = (await db.selectFrom("cluster_rate").select("site").execute()).map((r) =>
        r.site
      );
      assert(!sites.includes("old.test") && sites.includes("rate0.test"), sites.join());
    } finally {
      await a.close();
      await b.close();
    }
  });

  Deno.test(`node registry: live nodes, a stopped one, a silent one (${kind})`, async () => {
    await using n = await twoNodes(kind);
    const details = () => ({
      queue: "rabbitmq" as const,
      smtp: [],
      admin: "",
      configVersion: 0,
      inFlight: 0,
    });
    const registries = n.stores.map((s, i) =>
      new NodeRegistry(s, {
        id: `node-${i}`,
        name: `Node ${i}`,
        intervalMs: 100,
        timeoutMs: 1_000,
      }, { details, log: () => {} })
    );
    for (const r of registries) await r.start();
    const db = n.stores[0].db;
    let nodes = await listNodes(n.stores[0], { now: Date.now(), timeoutMs: 1_000 });
    assertEquals(nodes.map((x) => [x.id, x.name, x.live]), [["node-0", "Node 0", true], [
      "node-1",
      "Node 1",
      true,
    ]]);
    await registries[1].stop();
    nodes = await listNodes(n.stores[0], { now: Date.now(), timeoutMs: 1_000 });
    assertEquals(nodes.map((x) => [x.id, x.live, x.stoppedAt !== null]), [["node-0", true, false], [
      "node-1",
      false,
      true,
    ]]);
    // A node that stops beating (killed) is down once its heartbeat is older than the timeout.
    await registries[0].stop();
    await db.updateTable("nodes").set({ stopped_at: null, heartbeat_at: Date.now() - 5_000 })
      .where("id", "=", "node-0").execute();
    nodes = await listNodes(n.stores[0], { now: Date.now(), timeoutMs: 1_000 });
    assertEquals(nodes.find((x) => x.id === "node-0")!.live, false);
  });

  Deno.test(`config overrides: written on one node, applied live on another (${kind})`, async () => {
    await using n = await twoNodes(kind);
    const changes: string[][] = [];
    const syncs = n.stores.map((s, i) =>
      new ConfigSync(s, n.configs[i], {
        log: () => {},
        onChange: (_config, changed) => changes.push(changed),
      })
    );
    const live = await Promise.all(syncs.map((s) => s.effectiveConfig()));
    for (const s of syncs) await s.start();
    try {
      await syncs[0].set("smtp.max_recipients", 7);
      await syncs[0].set("delivery.retry_schedule", ["2s", "1m"]);
      assertEquals(live[0].smtp.max_recipients, 7, "applied where it was written");
      await syncs[1].reload(); // what the broadcast (or the poll) triggers
      assertEquals(live[1].smtp.max_recipients, 7);
      assertEquals(live[1].delivery.retry_schedule, [2_000, 60_000]);
      assert(syncs[1].version > 0 && syncs[1].version === syncs[0].version);
      // Invalid values and node-local keys are refused before anything is written.
      const bad = await assertRejects(() => syncs[0].set("smtp.max_recipients", -1));
      assertMatch(bad.message, /smtp\.max_recipients/);
      const local = await assertRejects(() => syncs[0].set("database.connection", "x"));
      assertMatch(local.message, /set per node/);
      // Removing an override falls back to the file's value.
      await syncs[0].set("smtp.max_recipients", undefined);
      await syncs[1].reload();
      assertEquals(live[1].smtp.max_recipients, 50);
      await waitUntil(() => changes.length >= 4);
    } finally {
      for (const s of syncs) await s.stop();
    }
  });
}
