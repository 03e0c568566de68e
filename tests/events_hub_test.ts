/**
 * The main thread's event hub (core/events/hub.ts): a batch goes to the webhooks that take its
 * types, as one JSON array per webhook; with no webhook and no accounting log nothing is written
 * (and nothing serialized, issue 19).
 */
import { assertEquals } from "./helpers/assert.ts";
import { EventHub } from "../core/events/hub.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";
import { EVENT_FORMAT_VERSION } from "../core/contracts/events.ts";
import type { WebhookOutboxRow, WebhookRecord } from "../core/store/mod.ts";

const config = {
  events: {
    enabled: true,
    buffer_size: 1_000,
    flush_interval: 60_000,
    accounting: { path: undefined },
  },
} as unknown as ConstructorParameters<typeof EventHub>[0]["config"];

function event(type: FastmtaEvent["type"], at: number): FastmtaEvent {
  return { v: EVENT_FORMAT_VERSION, id: `e-${at}`, type, at, node: "n1" };
}

function webhook(id: string, events: string[]): WebhookRecord {
  return { id, events, enabled: true } as WebhookRecord;
}

function hubWithRows() {
  const rows: WebhookOutboxRow[] = [];
  const hub = new EventHub({
    config,
    store: { enqueueWebhookEvents: (batch) => (rows.push(...batch), Promise.resolve()) },
    log: () => {},
  });
  return { hub, rows };
}

Deno.test("event hub: no webhook, no accounting log: the batch is counted, nothing written", async () => {
  const { hub, rows } = hubWithRows();
  hub.accept([event("received", 1), event("delivered", 2)]);
  await hub.close();
  assertEquals(rows, []);
  assertEquals(hub.stats.written, 2);
});

Deno.test("event hub: each webhook gets the events of its types as one JSON array", async () => {
  const { hub, rows } = hubWithRows();
  hub.setWebhooks([webhook("w-all", ["*"]), webhook("w-del", ["delivered"])]);
  const batch = [event("received", 1), event("delivered", 2)];
  hub.accept(batch);
  await hub.close();
  const byId = Object.fromEntries(rows.map((r) => [r.webhookId, r]));
  assertEquals(JSON.parse(byId["w-all"].body), batch);
  assertEquals(byId["w-all"].events, 2);
  assertEquals(JSON.parse(byId["w-del"].body), [batch[1]]);
  assertEquals(byId["w-del"].createdAt, 2);
});
