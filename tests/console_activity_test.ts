/**
 * What the dashboard charts (`GET /api/v1/activity`, core/store/activity.ts) on a real SQLite
 * store: messages accepted in the last hour, attempts delivered, deferred and bounced in the
 * minute they were made, the delivery latency p50/p99 of that minute from known latencies, and
 * the queue depth now.
 */
import { newQueueId } from "../core/accept/queue_id.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { RecipientResult, UnitOutcome } from "../core/contracts/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { activityOf } from "../routes/activity/mod.ts";
import { assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";

Deno.test("activity: accepted, delivered, deferred, bounced per minute, latency p50/p99, depth", async () => {
  await using dir = tempDir();
  const store = await openStore(parseConfig({ data_dir: dir.path }), "admin");
  try {
    await store.migrate();
    // Every attempt in one minute (at), each message accepted `latency` before it.
    const at = Date.now() - 5_000;
    const plan: { latency: number; outcome: RecipientResult["outcome"] }[] = [
      { latency: 1_000, outcome: "delivered" },
      { latency: 2_000, outcome: "delivered" },
      { latency: 30_000, outcome: "delivered" },
      { latency: 3_000, outcome: "deferred" },
      { latency: 4_000, outcome: "failed" },
    ];
    const ids = plan.map((p) => newQueueId(at - p.latency));
    await store.insertMessages(plan.map((p, i) => ({
      id: ids[i],
      sender: "sender@example.test",
      recipients: [`r${i}@d${i}.test`],
      channel: "api" as const,
      clientIp: "127.0.0.9",
      receivedAt: at - p.latency,
      body: new TextEncoder().encode("Subject: activity\r\n\r\nbody\r\n"),
    })));
    const units = await store.leaseDue({
      owner: "test",
      token: "activity-lease",
      now: Date.now(),
      leaseMs: 60_000,
      limit: 10,
    });
    assertEquals(units.length, plan.length);
    await store.settle(units.map((unit): UnitOutcome => {
      const i = ids.indexOf(unit.messageId);
      const { outcome } = plan[i];
      const code = outcome === "delivered" ? 250 : outcome === "deferred" ? 451 : 550;
      const facts = {
        unitId: unit.unitId,
        messageId: unit.messageId,
        domain: unit.domain,
        leaseToken: unit.leaseToken,
        at,
        durationMs: 5,
        sourceIp: "127.0.0.10",
        mxHost: `mx.${unit.domain}`,
        remoteIp: "127.0.0.20",
        tls: false,
        results: [{ address: `r${i}@d${i}.test`, outcome, code, reply: `${code} reply` }],
      };
      return outcome === "deferred"
        ? { ...facts, kind: "deferred", retryAt: at + 600_000, reason: "remote" }
        : { ...facts, kind: "final" };
    }));

    const body = await activityOf({ store }, 60);
    const sum = (key: "accepted" | "delivered" | "deferred" | "bounced") =>
      body.minutes.reduce((n, m) => n + m[key], 0);
    assertEquals(sum("accepted"), 5);
    assertEquals([sum("delivered"), sum("deferred"), sum("bounced")], [3, 1, 1]);
    const minute = body.minutes.find((m) => m.minute === at - (at % 60_000))!;
    assertEquals([minute.delivered, minute.deferred, minute.bounced], [3, 1, 1]);
    assertEquals([minute.latency_p50, minute.latency_p99], [2_000, 30_000]);
    const quiet = body.minutes.filter((m) => m !== minute && m.delivered === 0);
    assertEquals(quiet.every((m) => m.latency_p50 === null), true, "no latency without deliveries");
    assertEquals(body.queue.deferred, 1, "queue depth: the deferred one");
  } finally {
    await store.close();
  }
});
