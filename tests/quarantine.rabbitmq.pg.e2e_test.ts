/**
 * Issue 12, the door-disabled regression (docs/quarantine.md): a message whose metadata is
 * nested 10 000 deep cannot be cloned to a delivery worker. Queued straight through the Queue
 * API with no server running (that bypasses every door), together with 10 normal messages, it
 * used to stall its whole lease batch. Now the 10 are delivered, the nested one is quarantined
 * with its reason (visible in `queue --message` and the JSON API), and release / cancel work.
 * Run in both queue modes: embedded SQLite, and RabbitMQ with PostgreSQL.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  nestedMeta,
  quarantineFixture,
  type QueueMode,
  subjectOf,
  testMessage,
} from "./helpers/quarantine_fixture.ts";
import { waitUntil } from "./helpers/wait.ts";
import type { MessageDetail } from "../core/queue/quarantine.ts";

const DEPTH = 10_000;

function quarantinedLines(logs: string, unitId: string): number {
  return logs.split("\n").filter((l) => l.includes(`unit ${unitId} `) && l.includes("quarantined"))
    .length;
}

async function regression(mode: QueueMode) {
  await using fx = await quarantineFixture({ mode });
  const nested = testMessage("nested", { meta: nestedMeta(DEPTH) });
  const normal = Array.from({ length: 10 }, (_, i) => testMessage(`normal-${i}`));
  // One batch, the nested one first: it is leased with the others.
  await fx.queue([nested, ...normal]);
  const server = await fx.start();
  try {
    const delivered = await fx.sink.waitForMessages(10, 60_000);
    assertEquals(
      delivered.map((m) => subjectOf(m.text())).sort(),
      normal.map((_, i) => `normal-${i}`).sort(),
    );
    const unitId = `${nested.id}.0`;
    const detail = await waitUntil(async () => {
      const { body } = await fx.api<MessageDetail>("GET", `/api/v1/messages/${nested.id}`);
      return body.units?.[0]?.state === "quarantined" ? body : null;
    }, { timeoutMs: 60_000, message: "the nested message quarantined" });
    assertEquals(detail.units[0].id, unitId);
    assertEquals(detail.units[0].failures, 3);
    assertMatch(detail.units[0].failure_reason ?? "", /^dispatch: .*call stack/i);
    assertEquals(detail.recipients[0].state, "queued");
    assertEquals(fx.sink.messages.length, 10, "the nested message never left");
    assert(quarantinedLines(server.logs(), unitId) >= 1, "a log line says so");

    // The CLI shows the same.
    const shown = await fx.cli(["queue", "--message", nested.id]);
    assertEquals(shown.code, 0, shown.stderr);
    const cliDetail = JSON.parse(shown.stdout) as MessageDetail;
    assertEquals(cliDetail.units[0].state, "quarantined");
    assertMatch(cliDetail.units[0].failure_reason ?? "", /call stack/i);
    const counts = await fx.cli(["queue", "--json"]);
    assertEquals(JSON.parse(counts.stdout).quarantined_units, 1);

    // Release (CLI): it is tried again — and, still unclonable, quarantined again.
    const released = await fx.cli(["queue", "release", nested.id]);
    assertEquals(released.code, 0, released.stderr);
    assertEquals(JSON.parse(released.stdout).units, 1);
    await waitUntil(() => quarantinedLines(server.logs(), unitId) >= 2, {
      timeoutMs: 60_000,
      message: "quarantined again after the release",
    });
    const again = await fx.api<MessageDetail>("GET", `/api/v1/messages/${nested.id}`);
    assertEquals(again.body.units[0].state, "quarantined");
    assertEquals(again.body.units[0].failures, 3);

    // Cancel (API): done, its recipient failed, no DSN; an unknown id is a 404.
    const cancelled = await fx.api<{ units: number; recipients: number }>(
      "DELETE",
      `/api/v1/messages/${nested.id}`,
    );
    assertEquals(cancelled, { status: 200, body: { units: 1, recipients: 1 } });
    const after = await fx.api<MessageDetail>("GET", `/api/v1/messages/${nested.id}`);
    assertEquals(after.body.units[0].state, "done");
    assertEquals(after.body.recipients[0].state, "failed");
    assertEquals((await fx.api("DELETE", "/api/v1/messages/nosuchid")).status, 404);
    assertEquals((await fx.api("POST", "/api/v1/messages/nosuchid/release")).status, 404);
    const { body: queueCounts } = await fx.api<Record<string, number>>("GET", "/api/v1/queue");
    assertEquals(queueCounts.in_flight_units ?? 0, 0, JSON.stringify(queueCounts));
    assertEquals(fx.sink.messages.length, 10, "no DSN for a cancelled message");
  } catch (error) {
    console.error(`--- server output ---\n${server.logs()}`);
    throw error;
  }
}

Deno.test({
  name:
    "quarantine: nested metadata queued past the doors is quarantined, 10 others delivered (embedded)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => regression("embedded"),
});

Deno.test({
  name:
    "quarantine: nested metadata queued past the doors is quarantined, 10 others delivered (RabbitMQ)",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => regression("rabbitmq"),
});
