/**
 * The quality points of issue 15 that hold for every console page, through app.request on a real
 * SQLite store (tests/helpers/admin_fixture.ts): each main page answers 200 with a CSP that
 * allows only the console's own origin and references no external asset (it works offline),
 * carries the skip link to its main region (keyboard use), and says "UTC" where it shows a
 * time; the message list pages ("Older →" to the next page); a failing page is the styled 500
 * with the console's header, not a bare text.
 */
import { domainServices } from "../cli/serve_parts.ts";
import { openManagement } from "../core/manage/mod.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { adminApp } from "../routes/mod.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  adminFixture,
  consoleSession,
  DELIVERED_ID,
  loginSession,
  T0,
} from "./helpers/admin_fixture.ts";
import { tempDir } from "./helpers/net.ts";

const PAGES = [
  "/",
  "/messages",
  `/messages/${DELIVERED_ID}`,
  "/queue",
  "/queue?by=pool",
  "/queue?by=vmta",
  "/config",
  "/config/vmta",
  "/config/retention",
  "/config/tls",
  "/domains",
  "/accounts/smtp-users",
  "/accounts/api-keys",
  "/console-users",
  "/suppressions",
  "/audit",
  "/attempts",
];

/** Pages that show times: each must name the zone. */
const TIMED = ["/messages", `/messages/${DELIVERED_ID}`, "/attempts"];

Deno.test("console quality: own-origin CSP, no external asset, skip link, UTC, paging, 500", async () => {
  await using dir = tempDir();
  const fixture = await adminFixture(dir.path);
  const { store, auth } = fixture;
  const management = openManagement(store);
  try {
    const context = {
      ...fixture.context,
      management,
      queueOps: new QueueService(store, fixture.context.config, () => {}),
      domainServices: domainServices(store, fixture.context.config),
    };
    const web = adminApp(context);
    const { get } = await consoleSession(web, auth, "ada", "admin");

    for (const path of PAGES) {
      const { response, html } = await get(path);
      assertEquals(response.status, 200, path);
      const csp = response.headers.get("content-security-policy") ?? "";
      assertMatch(csp, /default-src 'self'/, `${path}: CSP`);
      assert(!/https?:|\*/.test(csp), `${path}: the CSP names no other origin: ${csp}`);
      const external = html.match(/(?:src|href|action)="(?:https?:)?\/\/[^"]*"/g) ?? [];
      assertEquals(external, [], `${path}: no external asset or link`);
      assertMatch(html, /<a href="#main"[^>]*>Skip to content</, `${path}: skip link`);
      assertMatch(html, /<main id="main"/, `${path}: the skip link's target`);
      if (TIMED.includes(path)) assertMatch(html, /\d\d:\d\d(:\d\d)? UTC/, `${path}: zone`);
    }

    // Paginated: a full page links the next one, which holds the older messages.
    await store.insertMessages(Array.from({ length: 50 }, (_, i) => ({
      id: `paged-${String(i).padStart(2, "0")}`,
      sender: "sender@example.test",
      recipients: ["p@y.test"],
      channel: "api" as const,
      clientIp: "127.0.0.9",
      receivedAt: T0 + 10_000 + i,
      body: new TextEncoder().encode("Subject: paged\r\n\r\nbody\r\n"),
    })));
    const first = await get("/messages");
    const older = first.html.match(/href="(\/messages\?before=[^"]+)"[^>]*>\s*Older/)?.[1];
    assert(older, "a full page links the older messages");
    const next = await get(older.replaceAll("&amp;", "&"));
    assertEquals(next.response.status, 200);
    assertMatch(next.html, new RegExp(`href="/messages/${DELIVERED_ID}"`), "the oldest on page 2");

    // A page whose service fails: the styled 500, inside the console's layout.
    const failing = adminApp({
      ...context,
      management: {
        ...management,
        audit: {
          ...management.audit,
          list: () => Promise.reject(new Error("database gone")),
        },
      },
    });
    const broken = await (await loginSession(failing, auth, "ada")).get("/audit");
    assertEquals(broken.response.status, 500);
    assertMatch(broken.html, /Something went wrong/);
    assertMatch(broken.html, /<header/);
    assert(!broken.html.includes("database gone"), "no internal error text on the page");
  } finally {
    await store.close();
  }
});
