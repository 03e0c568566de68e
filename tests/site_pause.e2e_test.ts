/**
 * A pause by destination site (issue 14): the site (the destination's MX hosts) is known only
 * after the MX lookup, so the delivery worker holds a unit routed there after the lookup and
 * before any connection, its state naming the pause; other sites go on; removing the pause sends
 * it. A bad site is a 400 naming the field.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { TEST_API_TOKEN } from "./helpers/server_process.ts";
import { sendWithSwaks } from "./helpers/smtp_client.ts";
import { waitUntil } from "./helpers/wait.ts";

Deno.test("site pause: held after the MX lookup, before any connection; released on removal", async () => {
  await using e2e = await startE2eFixture({
    prefix: "fastmta-site-pause-",
    zones: (sinkIp) => ({
      [E2E_DOMAIN]: { MX: [{ preference: 10, exchange: `mx1.${E2E_DOMAIN}` }] },
      [`mx1.${E2E_DOMAIN}`]: { A: [sinkIp] },
      "other.test": { MX: [{ preference: 10, exchange: "mx.other.test" }] },
      "mx.other.test": { A: [sinkIp] },
    }),
  });
  const server = await e2e.start(e2e.nodeConfig());
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.adminUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_API_TOKEN}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const send = async (to: string) => {
    const result = await sendWithSwaks({
      server: server.smtpAddress,
      from: "sender@origin.test",
      to: [to],
      data: "Subject: site pause\r\n\r\nbody\r\n",
    });
    assertEquals(result.code, 0, result.stdout);
    return result.queueId!;
  };
  try {
    const bad = await api("POST", "/pauses", { site: "mx one" });
    assertEquals(bad.status, 400);
    assertMatch(JSON.stringify(bad.body.errors), /site/);

    const added = await api("POST", "/pauses", { site: `*.${E2E_DOMAIN}`, reason: "site down" });
    assertEquals(added.status, 201);
    assertEquals([added.body.site, added.body.description], [
      `*.${E2E_DOMAIN}`,
      `site *.${E2E_DOMAIN}`,
    ]);
    await waitUntil(() => e2e.logs().includes(`pause ${added.body.id} (site *.${E2E_DOMAIN})`), {
      timeoutMs: 15_000,
      message: "the node read the pause",
    });
    const held = await send(`a@${E2E_DOMAIN}`);
    await send("b@other.test");
    await e2e.sink.waitForMessages(1); // the other site goes on
    let reply = "";
    await waitUntil(async () => {
      const found = await api("GET", `/queue/units?id=${held}&state=paused`);
      reply = found.body.items[0]?.last_reply ?? "";
      return reply !== "";
    }, { timeoutMs: 20_000, message: "the unit is held by the site pause" });
    assertMatch(
      reply,
      new RegExp(
        `^held by pause ${added.body.id} on node-a \\(site \\*\\.dest\\.test: site down\\)`,
      ),
    );
    assertMatch(reply, /site mx1\.dest\.test$/);
    assertEquals((await api("GET", `/messages/${held}`)).body.attempts, [], "no connection");
    assertEquals(e2e.sink.messages.length, 1);

    assertEquals((await api("DELETE", `/pauses/${added.body.id}`)).status, 204);
    await e2e.sink.waitForMessages(2);
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
