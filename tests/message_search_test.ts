/**
 * `GET /api/v1/messages` searches (issue 14): the queue filter's query parameters (id, sender,
 * recipient, domain, pool, vmta, tag, state, age, reply) pick the messages with a matching
 * unit, newest first, in cursor pages; no filter is the newest-first list; a bad parameter is a
 * 400 naming it; the OpenAPI document lists every parameter.
 */
import type { OpenAPIV3_1 } from "openapi-types";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import {
  ADMIN_TOKEN,
  adminFixture,
  DELIVERED_ID,
  QUARANTINED_ID,
  T0,
} from "./helpers/admin_fixture.ts";
import type { NewMessage } from "../core/contracts/mod.ts";

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

function tagged(id: string, at: number, meta: Record<string, unknown>): NewMessage {
  return {
    id,
    sender: "bulk@origin.test",
    recipients: [`r-${id}@w.test`],
    channel: "api",
    clientIp: "127.0.0.9",
    receivedAt: at,
    body: new TextEncoder().encode(`Subject: ${id}\r\n\r\nbody\r\n`),
    meta,
  };
}

Deno.test("GET /api/v1/messages searches by the queue filter's fields, newest first", async () => {
  await using dir = tempDir();
  const { app, store } = await adminFixture(dir.path);
  try {
    // Ids sort as they were accepted (newest last), as real message ids do.
    await store.insertMessages([
      tagged("m-1", T0 + 10, { pool: "bulk", tag: "news" }),
      tagged("m-2", T0 + 11, { pool: "bulk", tag: "promo" }),
      tagged("m-3", T0 + 12, { pool: "bulk", tag: "news" }),
      tagged("m-4", Date.now(), { pool: "alerts" }),
    ]);
    const ids = async (query: string) => {
      const response = await app.request(`/api/v1/messages${query}`, { headers: auth });
      assertEquals(response.status, 200, query);
      const body = await response.json();
      return body.items.map((m: { id: string }) => m.id);
    };
    assertEquals((await ids("")).slice(0, 3), ["m-4", "m-3", "m-2"], "no filter: newest first");
    assertEquals(await ids("?recipient=b@y.test"), [DELIVERED_ID]);
    assertEquals(await ids("?domain=z.test"), [QUARANTINED_ID]);
    assertEquals(await ids("?state=quarantined"), [QUARANTINED_ID]);
    assertEquals(await ids("?state=deferred"), [DELIVERED_ID]);
    assertEquals(await ids("?pool=bulk&tag=news"), ["m-3", "m-1"]);
    assertEquals(await ids("?sender=bulk@origin.test&pool=alerts"), ["m-4"]);
    assertEquals(await ids("?vmta=127.0.0.10"), [DELIVERED_ID], "an attempt from that source");
    assertEquals(await ids("?reply=try%20later"), [DELIVERED_ID]);
    assertEquals(await ids(`?id=${DELIVERED_ID}`), [DELIVERED_ID]);
    assertEquals(await ids("?newer_than=1h"), ["m-4"]);
    assert(!(await ids("?older_than=1h")).includes("m-4"));
    assertEquals(await ids("?pool=bulk&recipient=nobody@w.test"), []);

    // Cursor pages through a filtered search.
    const first = await app.request("/api/v1/messages?pool=bulk&limit=2", { headers: auth });
    const page1 = await first.json();
    assertEquals(page1.items.map((m: { id: string }) => m.id), ["m-3", "m-2"]);
    assert(page1.next_cursor, "a next page");
    assertEquals(await ids(`?pool=bulk&limit=2&cursor=${page1.next_cursor}`), ["m-1"]);
    assertEquals(
      Object.keys(page1.items[0]).sort(),
      ["created_at", "failed", "id", "pending", "recipients", "sender", "size"],
    );

    const bad = await app.request("/api/v1/messages?state=lost", { headers: auth });
    assertEquals(bad.status, 400);
    assertMatch(JSON.stringify((await bad.json()).errors), /state/);
    const badCursor = await app.request("/api/v1/messages?cursor=nope", { headers: auth });
    assertEquals(badCursor.status, 400);
    assertMatch(JSON.stringify((await badCursor.json()).errors), /cursor/);

    const document = await (await app.request("/api/v1/openapi.json"))
      .json() as OpenAPIV3_1.Document;
    const parameters = (document.paths?.["/messages"]?.get?.parameters ?? []) as {
      name: string;
    }[];
    const names = parameters.map((p) => p.name);
    for (
      const name of [
        "id",
        "sender",
        "recipient",
        "domain",
        "pool",
        "vmta",
        "tag",
        "state",
        "older_than",
        "newer_than",
        "reply",
        "cursor",
        "limit",
      ]
    ) assert(names.includes(name), `documented: ${name} (${names})`);
  } finally {
    await store.close();
  }
});
