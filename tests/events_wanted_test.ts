/**
 * Events nobody writes are not built (issue 19): the main thread's hub says which types a writer
 * takes (all with an accounting log or exchange, a webhook's own types, none with no writer), and
 * the settled outcomes make events of those types only.
 */
import { assertEquals } from "./helpers/assert.ts";
import { EventHub } from "../core/events/hub.ts";
import { emitOutcomes, emitReceived } from "../core/events/build.ts";
import { EventBuffer } from "../core/events/buffer.ts";
import { emitEvent, setEventSink } from "../core/events/emit.ts";
import type { UnitOutcome } from "../core/contracts/mod.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";
import type { WebhookOutboxRow, WebhookRecord } from "../core/store/mod.ts";

const config = {
  events: {
    enabled: true,
    buffer_size: 1_000,
    flush_interval: 60_000,
    accounting: { path: undefined },
  },
} as unknown as ConstructorParameters<typeof EventHub>[0]["config"];

function hub(publish?: (events: FastmtaEvent[]) => Promise<void>) {
  const rows: WebhookOutboxRow[] = [];
  const h = new EventHub({
    config,
    store: { enqueueWebhookEvents: (batch) => (rows.push(...batch), Promise.resolve()) },
    log: () => {},
    publish,
  });
  return { hub: h, rows };
}

function webhook(id: string, events: string[]): WebhookRecord {
  return { id, events, enabled: true } as WebhookRecord;
}

const outcome: UnitOutcome = {
  unitId: "u1",
  messageId: "m1",
  domain: "x.test",
  leaseToken: "t",
  at: 5,
  durationMs: 1,
  sourceIp: null,
  mxHost: null,
  remoteIp: null,
  tls: false,
  results: [
    { address: "a@x.test", outcome: "delivered", code: 250, reply: "ok" },
    { address: "b@x.test", outcome: "failed", code: 550, reply: "no such user" },
  ],
  kind: "final",
};

Deno.test("events wanted: no writer takes none; a webhook its types; '*' or the exchange all", () => {
  const { hub: h } = hub();
  assertEquals(h.wants("delivered"), false);
  h.setWebhooks([webhook("w-bounce", ["bounced"]), { ...webhook("w-off", ["*"]), enabled: false }]);
  assertEquals([h.wants("delivered"), h.wants("bounced")], [false, true]);
  h.setWebhooks([webhook("w-all", ["*"])]);
  assertEquals(h.wants("delivered"), true);
  const { hub: exchanged } = hub(() => Promise.resolve());
  assertEquals(exchanged.wants("received"), true);
});

Deno.test("events wanted: settled outcomes emit only the types a webhook takes", async () => {
  const { hub: h, rows } = hub();
  setEventSink(h, "n1");
  try {
    emitOutcomes([outcome]);
    emitEvent({ type: "paused", subject: "pause p1" });
    assertEquals(h.stats.taken, 0, "no writer: nothing built");
    h.setWebhooks([webhook("w-bounce", ["bounced"])]);
    emitOutcomes([outcome]);
    await h.close();
  } finally {
    setEventSink(null);
  }
  assertEquals(h.stats.taken, 1);
  assertEquals(rows.length, 1);
  const [bounced] = JSON.parse(rows[0].body) as FastmtaEvent[];
  assertEquals([bounced.type, bounced.recipient], ["bounced", "b@x.test"]);
});

Deno.test("events wanted: the hub tells the workers' buffers on each read; they filter", async () => {
  const { hub: h } = hub();
  const told: (string[] | null)[] = [];
  h.onWanted((types) => told.push(types));
  h.setWebhooks([webhook("w-bounce", ["bounced", "expired"])]);
  h.setWebhooks([webhook("w-bounce", ["bounced", "expired"]), webhook("w-all", ["*"])]);
  assertEquals(told, [["bounced", "expired"], null]);
  const posted: FastmtaEvent[] = [];
  const buffer = new EventBuffer({
    capacity: 10,
    flushMs: 60_000,
    flush: (b) => {
      posted.push(...b);
    },
  });
  setEventSink(buffer, "n1");
  try {
    buffer.setWanted(["bounced"]);
    emitReceived([{ id: "m1", sender: "", recipients: ["a@x.test"], body: [] } as never]);
    emitOutcomes([outcome]);
    buffer.setWanted(null);
    emitEvent({ type: "paused", subject: "pause p1" });
    await buffer.drain();
  } finally {
    setEventSink(null);
  }
  assertEquals(posted.map((e) => e.type), ["bounced", "paused"]);
});
