/**
 * Bounce policies apply live (issue 17): a policy made over REST on a running server turns VERP
 * on for one sending domain only. The sink sees the VERP return path on that domain's next
 * message and not on another domain's; the SMTP listener takes a report at the policy's VERP
 * domain from outside; the audit log shows the change; a bad policy is a 400 naming the field
 * and changes nothing; deleting the policy turns VERP off again, all without a restart.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { sendWithSwaks, type ServerProcess, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const VERP_DOMAIN = "bounces.policy.test";
const WAIT_MS = 30_000;

function api(server: ServerProcess, method: string, path: string, body?: unknown) {
  return fetch(`${server.adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TEST_API_TOKEN}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

Deno.test("a bounce policy turns VERP on for one sending domain while the server runs", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-bounce-policy-" });
  const config = e2e.nodeConfig();
  (config.smtp as Record<string, unknown>).relay_networks = ["127.0.0.1/32"];
  config.cluster = { config_poll: "500ms" };
  const server = await e2e.start(config);
  let sent = 0;
  const send = async (from: string) => {
    const rcpt = `policy${++sent}@${E2E_DOMAIN}`;
    const result = await sendWithSwaks({
      server: server.smtpAddress,
      from,
      to: [rcpt],
      data: `From: ${from}\r\nTo: ${rcpt}\r\nSubject: policy ${sent}\r\n\r\nHi.\r\n`,
    });
    assert(result.queueId, result.stdout);
    const id = result.queueId;
    const delivered = (s: typeof e2e.sink) => s.messages.find((m) => m.text().includes(`id ${id}`));
    await e2e.sink.waitFor((s) => delivered(s) !== undefined, WAIT_MS, `message ${id} delivered`);
    return { id, mailFrom: delivered(e2e.sink)!.mailFrom };
  };
  try {
    assertEquals((await send("news@shop.test")).mailFrom, "news@shop.test");

    // Invalid: the field is named and nothing is stored.
    const bad = await api(server, "POST", "/api/v1/bounce-policies", {
      scope: "sending_domain",
      verp: { enabled: true, domain: "not a domain" },
    });
    assertEquals(bad.status, 400);
    const problem = await bad.json() as { errors?: { path: string }[] };
    assertEquals(
      problem.errors?.map((e) => e.path).sort(),
      ["sending_domain", "verp.domain"],
      JSON.stringify(problem),
    );
    const none = await (await api(server, "GET", "/api/v1/bounce-policies")).json();
    assertEquals(none.items.length, 0, JSON.stringify(none));

    const created = await api(server, "POST", "/api/v1/bounce-policies", {
      scope: "sending_domain",
      sending_domain: "shop.test",
      verp: { enabled: true, domain: VERP_DOMAIN },
    });
    assert(created.ok, await created.text());
    const verp = await waitUntil(async () => {
      const message = await send("news@shop.test");
      return message.mailFrom.endsWith(`@${VERP_DOMAIN}`) ? message : null;
    }, { timeoutMs: WAIT_MS, message: "shop.test sent with a VERP return path" });
    assertMatch(verp.mailFrom, new RegExp(`^b\\+${verp.id}-[a-z2-7]{10}@`));
    // The policy is for shop.test only: other senders keep their own return path.
    assertEquals((await send("mail@other.test")).mailFrom, "mail@other.test");

    // The policy's VERP domain is a bounce domain now: taken from outside, never relayed.
    const report = await sendWithSwaks({
      server: server.smtpAddress,
      localAddress: "127.0.0.98",
      from: "",
      to: [verp.mailFrom],
      data: "From: MAILER-DAEMON@dest.test\r\nSubject: failure notice\r\n\r\nUser unknown.\r\n",
    });
    assertEquals(report.code, 0, report.stdout);

    const audit = await (await api(server, "GET", "/api/v1/audit?kind=bounce_policy")).json();
    assertEquals(audit.items.map((e: { action: string }) => e.action), ["create"]);
    assertEquals(audit.items[0].object_id, "domain:shop.test");

    const removed = await api(server, "DELETE", "/api/v1/bounce-policies/domain:shop.test");
    assertEquals(removed.status, 204, await removed.text());
    await waitUntil(async () => {
      const message = await send("news@shop.test");
      return message.mailFrom === "news@shop.test";
    }, { timeoutMs: WAIT_MS, message: "shop.test without VERP after the policy is gone" });
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
