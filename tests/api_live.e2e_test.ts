/**
 * A change made through the REST API applies to a running server without a restart: a real
 * server process (embedded, SQLite), the real sink, DNS on loopback. A vmta created with POST
 * /api/v1/vmtas sends the next message once the node reports the change's config version;
 * disabled with PATCH (If-Match) it gets no more mail.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { adminApi, sendWithSwaks, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

interface NodesBody {
  nodes: { details: { objects_version?: number } }[];
}

Deno.test({
  name: "REST API: a vmta added and disabled through the API applies live",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using e2e = await startE2eFixture({ prefix: "fastmta-api-live-" });
    const config = e2e.nodeConfig(); // sends from 127.0.0.10 (vmta1.test)
    const server = await e2e.start(config);
    const api = (method: string, path: string, body?: unknown, headers = {}) =>
      fetch(`${server.adminUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_API_TOKEN}`,
          "content-type": "application/json",
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    /** Waits until the node has applied the newest audited change. */
    const applied = async () => {
      const audit = await (await api("GET", "/api/v1/audit?limit=1")).json();
      const version = audit.items[0].config_version as number;
      await waitUntil(async () => {
        const { body } = await adminApi<NodesBody>(server, "/api/v1/nodes");
        return (body.nodes[0]?.details.objects_version ?? 0) >= version;
      }, { timeoutMs: 15_000, message: `config version ${version} applied` });
    };
    let delivered = 0;
    const next = async (subject: string) => {
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@example.test",
        to: [`rcpt@${E2E_DOMAIN}`],
        data: `Subject: ${subject}\r\n\r\nHello\r\n`,
      });
      assert(sent.code === 0, sent.stdout + sent.stderr);
      const messages = await e2e.sink.waitForMessages(++delivered, 20_000);
      const got = messages.find((m) => m.text().includes(`Subject: ${subject}`));
      assert(got, `message ${subject} at the sink`);
      return got;
    };
    try {
      assertEquals((await next("before")).remoteAddress, "127.0.0.10");

      const created = await api("POST", "/api/v1/vmtas", {
        ip: "127.0.0.12",
        hostname: "vmta12.test",
        weight: 100,
      });
      assertEquals(created.status, 201, await created.clone().text());
      const etag = created.headers.get("etag")!;
      await created.body?.cancel();
      await applied();
      const added = await next("added");
      assertEquals(added.remoteAddress, "127.0.0.12");
      assertEquals(added.helo, "vmta12.test");

      const disabled = await api("PATCH", "/api/v1/vmtas/127.0.0.12", { enabled: false }, {
        "if-match": etag,
      });
      assertEquals(disabled.status, 200, await disabled.clone().text());
      await disabled.body?.cancel();
      await applied();
      assertEquals((await next("disabled")).remoteAddress, "127.0.0.10");
    } catch (error) {
      console.error(server.logs());
      throw error;
    } finally {
      await server.stop();
    }
  },
});
