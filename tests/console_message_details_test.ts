/**
 * The message page's details through app.request on a real SQLite store: the header section of
 * the stored body (unfolded, capped), the DKIM signers (a signature already in the message and
 * the key fastmta signs its From domain with), and the why-line's "attempt N of M" (M from the
 * retry schedule and max_age) and the exact cluster limit a unit held for a slot waits on.
 */
import { QueueService } from "../core/manage/queue_service.ts";
import { attemptsWithin, HEAD_BYTES, parseHeaderSection } from "../core/manage/message_details.ts";
import type { QueueUnitBody } from "../core/api/queue_ops.ts";
import { whyWaiting } from "../routes/queue_pages/why.ts";
import { adminFixture, DELIVERED_ID, loginSession, T0 } from "./helpers/admin_fixture.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { join } from "node:path";
import { spoolDirFor } from "../core/spool/mod.ts";

Deno.test("header section: unfolded, stops at the body, capped", () => {
  const text = "From: A <a@x.test>\r\nSubject: one\r\n two\r\nX-Empty:\r\n\r\nNot: a header\r\n";
  const { fields, truncated } = parseHeaderSection(new TextEncoder().encode(text));
  assertEquals(fields, [
    { name: "From", value: "A <a@x.test>" },
    { name: "Subject", value: "one two" },
    { name: "X-Empty", value: "" },
  ]);
  assertEquals(truncated, false);
  const many = "X-A: 1\r\n".repeat(300) + "\r\nbody";
  const capped = parseHeaderSection(new TextEncoder().encode(many));
  assertEquals(capped.fields.length, 200);
  assertEquals(capped.truncated, true);
  const endless = new TextEncoder().encode("X-Long: " + "a".repeat(HEAD_BYTES));
  assertEquals(parseHeaderSection(endless.subarray(0, HEAD_BYTES)).truncated, true);
});

Deno.test("attempts within max_age: the schedule's last delay repeats", () => {
  assertEquals(attemptsWithin([60_000], 60_000), 2);
  assertEquals(attemptsWithin([60_000, 120_000], 299_999), 3); // at 0, 1m, 3m; 5m is past
  // The default: 1m 5m 15m 30m 1h 2h then 4h for 5 days.
  const day = 86_400_000;
  const schedule = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];
  assertEquals(attemptsWithin(schedule, 5 * day), 36);
});

Deno.test("why-line: attempt N of M, and the cluster limit a held unit waits for", () => {
  const unit: QueueUnitBody = {
    unit_id: "u",
    message_id: "m",
    domain: "gmail.test",
    sender: "s@x.test",
    state: "deferred",
    attempts: 2,
    due_at: T0 + 60_000,
    created_at: T0,
    held: null,
    last_reply: "421 4.7.0 try later",
    hold_reason: null,
    pool: null,
    tag: null,
  };
  const rule = {
    maxAttempts: 9,
    maxConnections: 5,
    clusterMaxConnections: 20,
    clusterMessageRate: { count: 100, per: 60_000 },
    messageRates: [],
  };
  assertMatch(
    whyWaiting(unit, T0, rule)!,
    /^deferred: 421 4\.7\.0 try later; next attempt .* \(attempt 3 of 9\)$/,
  );
  const held = whyWaiting(
    {
      ...unit,
      state: "paused",
      held: "cluster_limit",
      last_reply: "gmail: all 20 cluster connection slots taken",
    },
    T0,
    rule,
  )!;
  assertMatch(held, /^waiting for a connection slot: gmail: all 20 cluster connection slots taken/);
  assertMatch(held, /\(cluster limit 20 connections, cluster rate 100 per 1 min\)/);
});

Deno.test("message page: headers, DKIM signers, attempt N of M", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store } = fixture;
  try {
    const body = "DKIM-Signature: v=1; a=rsa-sha256; d=upstream.test; s=sel1;\r\n" +
      " h=from; bh=x; b=y\r\nFrom: Sender <sender@mail.example.test>\r\nSubject: details\r\n" +
      "\r\nHello <script>\r\n";
    await store.insertMessages([{
      id: "details-1",
      sender: "sender@mail.example.test",
      recipients: ["r@y.test"],
      channel: "api",
      clientIp: "127.0.0.9",
      receivedAt: T0,
      body: new TextEncoder().encode(body),
    }]);
    // fastmta's key for the parent domain of the From address signs it at send time.
    await store.addDkimKey({
      domain: "example.test",
      selector: "fm1",
      algorithm: "ed25519-sha256",
      privateKey: "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
      publicKey: "AAAA",
      createdAt: T0,
    });
    const web = (await import("../routes/mod.ts")).adminApp({
      ...fixture.context,
      queueOps: new QueueService(store, fixture.config, () => {}),
    });
    const alice = await loginSession(web, fixture.auth, "alice");
    const get = async (path: string) => (await alice.get(path)).html;

    const html = await get("/messages/details-1");
    assertMatch(html, /data-header="subject"[^]*?details/);
    assertMatch(html, /data-header="dkim-signature"[^]*?d=upstream\.test; s=sel1; h=from/);
    assert(!html.includes("Hello"), "the body is not shown");
    assertMatch(
      html,
      /data-dkim="message" data-dkim-domain="upstream\.test" data-dkim-selector="sel1"/,
    );
    assertMatch(
      html,
      /data-dkim="at_send" data-dkim-domain="example\.test" data-dkim-selector="fm1"/,
    );

    // The fixture's deferred unit (1 attempt made): the next is attempt 2 of the default 36.
    const deferred = await get(`/messages/${DELIVERED_ID}`);
    assertMatch(deferred, /data-why="deferred"[^]*?\(attempt 2 of 36\)/);
    assertMatch(deferred, /data-dkim="none"/);

    // Once the spool freed its segment, the page says the body is gone instead of headers.
    const spool = spoolDirFor(join(dir.path, "fastmta.db"));
    for await (const entry of Deno.readDir(spool)) await Deno.remove(join(spool, entry.name));
    const freed = await get("/messages/details-1");
    assertMatch(freed, /data-headers="freed"/);
    assert(!freed.includes('data-header="subject"'));
  } finally {
    await store.close();
  }
});
