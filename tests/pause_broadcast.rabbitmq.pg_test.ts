/**
 * Pause changes travel on the config fanout (issue 14): a pause added or removed through the
 * queue service publishes a config event, and a node's pause gate subscribed to its ConfigSync
 * re-reads at once — here the gate's own poll and the config poll are an hour, so only the event
 * can have told it. The service emits `paused` and `resumed` events naming the pause and actor.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { sharedDatabase, testVhost } from "./helpers/rabbitmq.ts";
import { waitUntil } from "./helpers/wait.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";
import { ConfigSync } from "../core/cluster/config_sync.ts";
import { setEventSink } from "../core/events/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import type { Actor } from "../core/manage/types.ts";
import { PauseGate } from "../core/schedule/pauses.ts";
import { openStore } from "../core/store/mod.ts";

const ACTOR: Actor = { name: "olga", role: "operator", channel: "cli" };

Deno.test("a pause change is broadcast: another node's gate applies it without polling", async () => {
  await using dir = tempDir("fastmta-pause-event-");
  await using vhost = await testVhost();
  await using database = await sharedDatabase(dir.path);
  const config = parseConfig({
    id: "pause-node",
    data_dir: dir.path,
    database: database.config,
    rabbitmq: vhost.config,
    cluster: { config_poll: "1h" },
  });
  const log = () => {};
  const store = await openStore(config, "deliver", { log });
  await store.migrate();
  const nodeStore = await openStore(config, "deliver", { log });
  const events: FastmtaEvent[] = [];
  setEventSink({ push: (e) => events.push(e) }, "pause-node");
  const gate = new PauseGate({
    store: nodeStore,
    node: "pause-node",
    recheckMs: () => 60_000,
    release: () => Promise.resolve(0),
    pollMs: 3_600_000,
    log,
  });
  const sync = new ConfigSync(nodeStore, config, { log, onChange: () => {} });
  sync.onReload(() => void gate.reload());
  const service = new QueueService(store, config, log);
  try {
    await gate.start();
    await sync.start();
    assertEquals(gate.pauses.length, 0);
    const pause = await service.addPause(ACTOR, { domain: "slow.test", reason: "incident" });
    await waitUntil(() => gate.pauses.some((p) => p.id === pause.id), {
      timeoutMs: 10_000,
      message: "the gate read the new pause from the config event",
    });
    await service.removePause(ACTOR, pause.id);
    await waitUntil(() => gate.pauses.length === 0, {
      timeoutMs: 10_000,
      message: "the gate read the removal from the config event",
    });
    const changes = events.filter((e) => e.type === "paused" || e.type === "resumed");
    assertEquals(changes.map((e) => [e.type, e.actor, e.domain]), [
      ["paused", "olga", "slow.test"],
      ["resumed", "olga", "slow.test"],
    ]);
    assertMatch(changes[0].subject!, new RegExp(`pause ${pause.id} \\(domain slow.test\\)`));
    assertEquals(changes[0].reason, "incident");
  } finally {
    setEventSink(null);
    gate.stop();
    await sync.stop();
    await service.close();
    await nodeStore.close();
    await store.close();
  }
});
