/**
 * Config objects in distributed mode (RabbitMQ + PostgreSQL, two nodes): each node seeded its
 * own vmta pinned to itself; a change made through node A's configuration is applied by node B
 * (broadcast on the config fanout, else B's version poll) and both report the same config
 * version; B then uses it (a route to a smarthost for mail B accepted).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startCluster } from "./helpers/cluster_fixture.ts";
import { freePort, uniqueLoopbackIp, waitForPort } from "./helpers/net.ts";
import { adminApi, runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { waitUntil } from "./helpers/wait.ts";

interface NodesBody {
  nodes: { id: string; details: { objects_version?: number; smtp?: string[] } }[];
}

Deno.test({
  name: "config objects: a change on node A is applied on node B, both at the same version",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await startCluster();
    await using smarthost = await startSmtpSink({ hostname: uniqueLoopbackIp() });
    const path = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(path, JSON.stringify(c.configs[0]));
      const list = await runCli(["vmta", "list", "--json", "--config", path]);
      assertEquals(list.code, 0, list.stderr);
      const ids = (JSON.parse(list.stdout) as { id: string }[]).map((o) => o.id).sort();
      assertEquals(ids, ["node-a/127.0.0.11", "node-b/127.0.0.12"]);

      const from = Date.now();
      const added = await runCli([
        "route",
        "add",
        "domain=routed.test",
        `host=${smarthost.hostname}`,
        `port=${smarthost.port}`,
        "--config",
        path,
      ]);
      assertEquals(added.code, 0, added.stderr);
      const version = Number(/config version (\d+)/.exec(added.stderr)?.[1]);
      assert(version > 0, added.stderr);
      const versions = await waitUntil(async () => {
        const { body } = await adminApi<NodesBody>(c.servers[1], "/api/v1/nodes");
        const seen = body.nodes.map((n) => n.details.objects_version ?? 0);
        return seen.length === 2 && seen.every((v) => v >= version) ? seen : null;
      }, { timeoutMs: 15_000, message: `both nodes at config version ${version}` });
      console.log(`both nodes applied version ${version} after ${Date.now() - from} ms`);
      assertEquals(versions, [version, version]);

      const sent = await sendWithSwaks({
        server: c.servers[1].smtpAddress,
        from: "sender@example.test",
        to: ["someone@routed.test"],
        data: "From: sender@example.test\r\nSubject: routed\r\n\r\nHello\r\n",
      });
      assertEquals(sent.code, 0, sent.stdout + sent.stderr);
      const [message] = await smarthost.waitForMessages(1, 30_000);
      assertEquals(message.rcptTo, ["someone@routed.test"]);

      // A listener pinned to node B, added through node A's configuration: B binds it, A not.
      const port = freePort();
      const pinned = await runCli([
        "listener",
        "add",
        "ip=127.0.0.1",
        `port=${port}`,
        "node=node-b",
        "--config",
        path,
      ]);
      assertEquals(pinned.code, 0, pinned.stderr);
      await waitForPort("127.0.0.1", port, 15_000);
      const listening = await waitUntil(async () => {
        const { body } = await adminApi<NodesBody>(c.servers[0], "/api/v1/nodes");
        const byNode = Object.fromEntries(body.nodes.map((n) => [n.id, n.details.smtp ?? []]));
        return byNode["node-b"]?.includes(`127.0.0.1:${port}`) ? byNode : null;
      }, { timeoutMs: 15_000, message: "node B lists the pinned listener" });
      assert(!listening["node-a"].includes(`127.0.0.1:${port}`), "node A does not bind it");
    } catch (error) {
      c.dump();
      throw error;
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  },
});
