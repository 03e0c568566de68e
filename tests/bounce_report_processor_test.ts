/**
 * The bounce-report processor on a real SQLite store: a received DSN is stored before
 * `receive` resolves, then applied (recipient bounced, address suppressed with source "dsn",
 * the report kept with what was found); a report a crashed processor had claimed is applied when
 * that processor's slot starts again; a soft bounce only records; a repeated report changes
 * nothing more.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { waitUntil } from "./helpers/wait.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import { newQueueId } from "../core/accept/mod.ts";
import { BounceReportProcessor } from "../core/bounce/reports.ts";
import { type TokenKey, verpAddress } from "../core/bounce/tokens.ts";
import { setEventSink } from "../core/events/emit.ts";
import type { FastmtaEvent } from "../core/contracts/events.ts";

const KEY: TokenKey = { bytes: new Uint8Array(32).fill(5) };
const VERP = { prefix: "b", domain: "bounces.test" };

function dsn(recipient: string, action: string, status: string): Uint8Array {
  return new TextEncoder().encode([
    "From: MAILER-DAEMON@x.test",
    "Subject: failure",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "",
    "--B",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.x.test",
    "",
    `Final-Recipient: rfc822; ${recipient}`,
    `Action: ${action}`,
    `Status: ${status}`,
    `Diagnostic-Code: smtp; ${status.startsWith("5") ? "550" : "450"} ${status} mailbox problem`,
    "--B--",
    "",
  ].join("\r\n"));
}

async function delivered(store: SqlStore, recipients: string[]): Promise<string> {
  const id = newQueueId();
  await store.insertMessages([{
    id,
    sender: "news@shop.test",
    recipients,
    channel: "smtp",
    clientIp: "127.0.0.1",
    receivedAt: Date.now(),
    body: new TextEncoder().encode("Subject: hi\r\n\r\nhi\r\n"),
  }]);
  const units = await store.leaseDue({
    owner: "t",
    token: crypto.randomUUID(),
    now: Date.now() + 1,
    leaseMs: 60_000,
    limit: 10,
  });
  const unit = units.find((u) => u.messageId === id)!;
  await store.settle([
    {
      unitId: unit.unitId,
      messageId: id,
      domain: unit.domain,
      leaseToken: unit.leaseToken,
      at: Date.now(),
      durationMs: 1,
      sourceIp: "127.0.0.10",
      mxHost: "mx.x.test",
      remoteIp: "127.0.0.20",
      tls: false,
      results: recipients.map((address) => ({
        address,
        outcome: "delivered" as const,
        code: 250,
        reply: "250 ok",
      })),
      kind: "final",
    } as Parameters<SqlStore["settle"]>[0][number],
  ]);
  return id;
}

async function withProcessor(
  fn: (store: SqlStore, make: () => BounceReportProcessor) => Promise<void>,
) {
  await using dir = tempDir();
  const config = parseConfig({
    data_dir: dir.path,
    bounce: { verp: { enabled: true, ...VERP } },
  });
  const store = await openStore(config, "accept");
  await store.migrate();
  const made: BounceReportProcessor[] = [];
  try {
    await fn(store, () => {
      const p = new BounceReportProcessor({
        store,
        config,
        key: KEY,
        claimPrefix: "report:test:0:",
        log: () => {},
      });
      made.push(p);
      return p;
    });
  } finally {
    for (const p of made) await p.stop();
    await store.close();
  }
}

Deno.test("a received hard bounce is stored, then bounces and suppresses the recipient", async () => {
  await withProcessor(async (store, make) => {
    const id = await delivered(store, ["Bob@x.test", "carol@x.test"]);
    const processor = make();
    const verp = verpAddress(KEY, VERP, id, "Bob@x.test");
    assertEquals(await processor.refusal(verp), null);
    assertEquals(await processor.refusal(verp.replace(id, newQueueId())), "invalid bounce token");
    assertEquals(await processor.refusal("postmaster@bounces.test"), null);
    assertEquals(await processor.refusal("someone@bounces.test"), "no such bounce address");
    await processor.receive({
      mailFrom: "",
      rcptTo: [verp],
      clientIp: "127.0.0.99",
      raw: dsn("bob@x.test", "failed", "5.1.1"),
    });
    await processor.idle();
    const states = (await store.bouncedMessage(id))!.recipients.map((r) => [r.address, r.state]);
    assertEquals(states, [["Bob@x.test", "bounced"], ["carol@x.test", "delivered"]]);
    const [s] = await store.suppressions(["bob@x.test"], Date.now());
    assertEquals([s.category, s.source, s.messageId], ["bad_mailbox", "dsn", id]);
    const [report] = await store.bounceReportsFor(id);
    assertEquals([report.state, report.kind, report.recipient], [
      "processed",
      "hard_bounce",
      "Bob@x.test",
    ]);
    // The same report again: recorded, nothing more changes.
    await processor.receive({
      mailFrom: "",
      rcptTo: [verp],
      clientIp: "127.0.0.99",
      raw: dsn("bob@x.test", "failed", "5.1.1"),
    });
    await processor.idle();
    assertEquals((await store.bounceReportsFor(id)).length, 2);
    assertEquals((await store.bouncedMessage(id))!.recipients[0].state, "bounced");
  });
});

Deno.test("a report claimed by a processor that died is applied when its slot starts again", async () => {
  await withProcessor(async (store, make) => {
    const id = await delivered(store, ["dave@x.test"]);
    await store.saveBounceReport({
      id: newQueueId(),
      receivedAt: Date.now(),
      clientIp: "127.0.0.99",
      mailFrom: "",
      rcptTo: [verpAddress(KEY, VERP, id, "dave@x.test")],
      raw: dsn("dave@x.test", "delayed", "4.2.2"),
      expiresAt: Date.now() + 60_000,
    });
    // The crashed run claimed it and never finished.
    assertEquals((await store.claimBounceReports("report:test:0:dead", 10)).length, 1);
    make().start();
    const [report] = await waitUntil(async () => {
      const reports = await store.bounceReportsFor(id);
      return reports.length > 0 ? reports : null;
    }, { timeoutMs: 10_000, message: "the abandoned report processed" });
    assertEquals([report.kind, report.status], ["soft_bounce", "4.2.2"]);
    // A soft bounce only records: the recipient stays delivered, nothing is suppressed.
    assertEquals((await store.bouncedMessage(id))!.recipients[0].state, "delivered");
    assertEquals(await store.suppressions(["dave@x.test"], Date.now()), []);
    assert(report.processedAt !== null);
  });
});

Deno.test("an async hard bounce emits bounced and suppression_added events", async () => {
  const events: FastmtaEvent[] = [];
  setEventSink({ push: (event) => events.push(event) }, "test-node");
  try {
    await withProcessor(async (store, make) => {
      const id = await delivered(store, ["dave@x.test"]);
      const processor = make();
      await processor.receive({
        mailFrom: "",
        rcptTo: [verpAddress(KEY, VERP, id, "dave@x.test")],
        clientIp: "127.0.0.99",
        raw: dsn("dave@x.test", "failed", "5.1.1"),
      });
      await processor.idle();
      const mine = events.filter((e) => e.message_id === id);
      assertEquals(mine.map((e) => [e.type, e.recipient, e.category]), [
        ["bounced", "dave@x.test", "bad_mailbox"],
        ["suppression_added", "dave@x.test", "bad_mailbox"],
      ]);
      assert(mine[0].reply?.startsWith("asynchronous bounce:"));
    });
  } finally {
    setEventSink(null);
  }
});
