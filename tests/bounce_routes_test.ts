/**
 * The HTTP side of issue 17 on a real store: a kept bounce report is listed by
 * `GET /api/v1/messages/:id/reports` (matching its schema) and shown on the message's page;
 * the one-click unsubscribe link needs no login, answers 404 for a token that is not ours and
 * changes nothing then, and suppresses the address for the sender on a valid one.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { ADMIN_TOKEN, adminFixture, DELIVERED_ID, loginSession } from "./helpers/admin_fixture.ts";
import { tempDir } from "./helpers/net.ts";
import { BounceReportListSchema } from "../core/api/schemas.ts";
import { adminApp } from "../routes/mod.ts";
import { unsubscribeAction } from "../core/bounce/unsubscribe.ts";
import { makeToken, type TokenKey } from "../core/bounce/tokens.ts";
import { newQueueId } from "../core/accept/mod.ts";

const KEY: TokenKey = { bytes: new Uint8Array(32).fill(3) };

async function withReport(dir: string) {
  const fixture = await adminFixture(dir);
  await fixture.store.saveBounceReport({
    id: "R0000000000000AA",
    receivedAt: Date.now(),
    clientIp: "127.0.0.99",
    mailFrom: "",
    rcptTo: ["b+x@bounces.test"],
    raw: new TextEncoder().encode("Subject: x\r\n\r\nx\r\n"),
    expiresAt: Date.now() + 60_000,
  });
  await fixture.store.finishBounceReport("R0000000000000AA", {
    state: "processed",
    kind: "hard_bounce",
    messageId: DELIVERED_ID,
    recipient: "a@x.test",
    category: "bad_mailbox",
    status: "5.1.1",
    detail: "rfc3464; matched by verp; 550 5.1.1 <a@x.test>: no such user",
    processedAt: Date.now(),
  });
  return fixture;
}

Deno.test("a kept report is listed with its message (API and page)", async () => {
  await using dir = tempDir();
  const { app, store, auth } = await withReport(dir.path);
  try {
    const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const api = await app.request(`/api/v1/messages/${DELIVERED_ID}/reports`, { headers: bearer });
    assertEquals(api.status, 200);
    const body = BounceReportListSchema.parse(await api.json());
    assertEquals(body.reports.map((r) => [r.kind, r.recipient, r.status]), [
      ["hard_bounce", "a@x.test", "5.1.1"],
    ]);
    assertEquals(
      (await app.request("/api/v1/messages/nope/reports", { headers: bearer })).status,
      404,
    );
    assertEquals((await app.request(`/api/v1/messages/${DELIVERED_ID}/reports`)).status, 401);
    const { status, html } = await (await loginSession(app, auth, "alice"))
      .get(`/messages/${DELIVERED_ID}`);
    assertEquals(status, 200);
    assertMatch(html, /Bounce and complaint reports/);
    assertMatch(html, /data-kind="hard_bounce"/);
    assertMatch(html, /no such user/);
  } finally {
    await store.close();
  }
});

Deno.test("one-click unsubscribe: no login, 404 for a foreign token, suppression for ours", async () => {
  await using dir = tempDir();
  const { store, config, auth } = await adminFixture(dir.path);
  try {
    const lines: string[] = [];
    const app = adminApp({
      config,
      store,
      auth,
      startedAt: Date.now(),
      unsubscribe: unsubscribeAction(store, KEY, config, (l) => lines.push(l)),
    });
    const post = (token: string) =>
      app.request(`/unsubscribe/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      });
    const id = newQueueId();
    await store.insertMessages([{
      id,
      sender: "news@shop.test",
      recipients: ["Reader@y.test"],
      channel: "smtp",
      clientIp: "127.0.0.1",
      receivedAt: Date.now(),
      body: new TextEncoder().encode("Subject: hi\r\n\r\nhi\r\n"),
    }]);
    const good = makeToken(KEY, "unsubscribe", id, "Reader@y.test");
    const foreign = makeToken({ bytes: new Uint8Array(32) }, "unsubscribe", id, "Reader@y.test");
    const verp = makeToken(KEY, "verp", id, "Reader@y.test");
    for (const token of [foreign, verp, "not-a-token", `${"0".repeat(16)}-aaaaaaaaaa`]) {
      const refused = await post(token);
      assertEquals(refused.status, 404, token);
      assertMatch((await refused.json()).error, /^token: /);
    }
    assertEquals(lines, []);
    assertEquals(await store.senderSuppressions("shop.test", ["reader@y.test"], Date.now()), []);
    const page = await app.request(`/unsubscribe/${good}`);
    assertEquals(page.status, 200);
    assertMatch(await page.text(), /method="post"/);
    assertEquals(await store.senderSuppressions("shop.test", ["reader@y.test"], Date.now()), []);
    const done = await post(good);
    assertEquals(done.status, 200);
    assertEquals(await done.json(), { unsubscribed: true, sender_domain: "shop.test" });
    const suppressed = await store.senderSuppressions("shop.test", ["reader@y.test"], Date.now());
    assertEquals(suppressed.map((s) => [s.address, s.source]), [["reader@y.test", "unsubscribe"]]);
    assertEquals(await store.senderSuppressions("other.test", ["reader@y.test"], Date.now()), []);
  } finally {
    await store.close();
  }
});
