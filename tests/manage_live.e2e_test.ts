/**
 * Configuration objects apply to a running server without a restart (issue 14): a real server
 * process (embedded, SQLite), the real sink, DNS on loopback, changes made with the CLI while it
 * runs. Each step waits until the node reports the config version the CLI produced (GET
 * /api/v1/nodes) and then checks that the engine's behaviour changed: the source IP the sink
 * sees, a new listener accepting, a bad bind reported with the old listener still serving, a
 * shaping rule honoured, a route to a smarthost used.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { freePort, uniqueLoopbackIp, waitForPort } from "./helpers/net.ts";
import { adminApi, runCli, sendWithSwaks, type ServerProcess } from "./helpers/server_process.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { generateSelfSignedCert } from "./helpers/tls_cert.ts";
import { waitUntil } from "./helpers/wait.ts";

interface NodesBody {
  nodes: { id: string; details: { objects_version?: number; listener_errors?: string[] } }[];
}

/** Runs the CLI; returns the config version it reports (stderr "…; config version N"). */
async function cli(configPath: string, args: string[]): Promise<number> {
  const result = await runCli([...args, "--config", configPath]);
  assertEquals(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
  const match = /config version (\d+)/.exec(result.stderr);
  return match ? Number(match[1]) : 0;
}

/** Waits until the node reports `version` applied; returns how long that took after `from`. */
async function applied(server: ServerProcess, version: number, from: number): Promise<number> {
  await waitUntil(async () => {
    const { body } = await adminApi<NodesBody>(server, "/api/v1/nodes");
    return (body.nodes[0]?.details.objects_version ?? 0) >= version;
  }, { timeoutMs: 15_000, message: `config version ${version} applied` });
  return Date.now() - from;
}

async function send(server: string, to: string[], subject: string) {
  const result = await sendWithSwaks({
    server,
    from: "sender@example.test",
    to,
    data: `From: sender@example.test\r\nTo: ${to[0]}\r\nSubject: ${subject}\r\n\r\nHello\r\n`,
  });
  assert(result.code === 0, result.stdout + result.stderr);
}

Deno.test({
  name: "config objects: vmtas, listeners, shaping rules and routes apply live",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using e2e = await startE2eFixture({ prefix: "fastmta-manage-" });
    await using smarthost = await startSmtpSink({ hostname: uniqueLoopbackIp() });
    const config = e2e.nodeConfig(); // sends from 127.0.0.10 (vmta1.test)
    const path = await e2e.writeConfig(config);
    const server = await e2e.start(config);
    const timings: Record<string, number> = {};
    let delivered = 0;
    const next = async (subject: string) => {
      await send(server.smtpAddress, [`rcpt@${E2E_DOMAIN}`], subject);
      const messages = await e2e.sink.waitForMessages(++delivered, 20_000);
      const got = messages.find((m) => m.text().includes(`Subject: ${subject}`));
      assert(got, `message ${subject} at the sink`);
      return got;
    };
    try {
      await t.step("the file's vmta was seeded and is used", async () => {
        assertEquals((await next("seed")).remoteAddress, "127.0.0.10");
        const list = await runCli(["vmta", "list", "--json", "--config", path]);
        const ids = (JSON.parse(list.stdout) as { id: string }[]).map((o) => o.id);
        assertEquals(ids, ["127.0.0.10"]);
      });

      await t.step("a vmta added while running sends the next message", async () => {
        const from = Date.now();
        const version = await cli(path, [
          "vmta",
          "add",
          "ip=127.0.0.12",
          "hostname=vmta12.test",
          "weight=100",
        ]);
        timings.vmta_add = await applied(server, version, from);
        const message = await next("added");
        assertEquals(message.remoteAddress, "127.0.0.12");
        assertEquals(message.helo, "vmta12.test");
      });

      await t.step("a disabled vmta gets no new mail", async () => {
        const from = Date.now();
        const version = await cli(path, ["vmta", "disable", "127.0.0.12"]);
        timings.vmta_disable = await applied(server, version, from);
        assertEquals((await next("disabled")).remoteAddress, "127.0.0.10");
      });

      await t.step("a listener added while running accepts mail", async () => {
        const port = freePort();
        const from = Date.now();
        const version = await cli(path, ["listener", "add", "ip=127.0.0.1", `port=${port}`]);
        await waitForPort("127.0.0.1", port, 15_000);
        timings.listener_accepts = Date.now() - from;
        await applied(server, version, from);
        await send(`127.0.0.1:${port}`, [`rcpt@${E2E_DOMAIN}`], "new-listener");
        await e2e.sink.waitForMessages(++delivered, 20_000);
        // Removed: the port stops accepting (the original listener stays).
        await cli(path, ["listener", "remove", `127.0.0.1:${port}`]);
        await waitUntil(async () => {
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port })).close();
            return false;
          } catch {
            return true;
          }
        }, { timeoutMs: 15_000, message: "the removed listener closed" });
        await waitForPort("127.0.0.1", server.smtpPort, 1_000);
      });

      await t.step("an smtps listener added with its own certificate serves it", async () => {
        const pair = await generateSelfSignedCert({ ipAddresses: ["127.0.0.1"] });
        await Deno.writeTextFile(`${e2e.dir}/l.crt`, pair.cert);
        await Deno.writeTextFile(`${e2e.dir}/l.key`, pair.key);
        const port = freePort();
        const certificate = JSON.stringify({
          cert_file: `${e2e.dir}/l.crt`,
          key_file: `${e2e.dir}/l.key`,
        });
        await cli(path, [
          "listener",
          "add",
          "ip=127.0.0.1",
          `port=${port}`,
          "mode=smtps",
          `certificate=${certificate}`,
        ]);
        await waitForPort("127.0.0.1", port, 15_000);
        // The certificate the listener presents is the one given (openssl prints it).
        const out = await new Deno.Command("openssl", {
          args: ["s_client", "-connect", `127.0.0.1:${port}`],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).output();
        const pemBody = (pem: string) =>
          /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem)?.[1]
            .replace(/\s/g, "");
        const served = new TextDecoder().decode(out.stdout);
        assertEquals(pemBody(served), pemBody(pair.cert));
      });

      await t.step("a bad bind is reported and the old listeners keep serving", async () => {
        const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (taken.addr as Deno.NetAddr).port;
        try {
          const from = Date.now();
          const version = await cli(path, ["listener", "add", "ip=127.0.0.1", `port=${port}`]);
          await applied(server, version, from);
          const errors = await waitUntil(async () => {
            const { body } = await adminApi<NodesBody>(server, "/api/v1/nodes");
            const found = body.nodes[0]?.details.listener_errors ?? [];
            return found.some((e) => e.startsWith(`127.0.0.1:${port}`)) ? found : null;
          }, { timeoutMs: 15_000, message: "the bad bind reported" });
          assertMatch(errors.join("\n"), /in use|EADDRINUSE/i);
          assertEquals((await next("still-serving")).remoteAddress, "127.0.0.10");
        } finally {
          taken.close();
        }
      });

      await t.step("a shaping rule is honoured", async () => {
        const from = Date.now();
        await cli(path, [
          "shaping",
          "set",
          E2E_DOMAIN,
          '{"max_recipients_per_transaction": 1}',
        ]);
        const version = await currentVersion(path);
        timings.shaping = await applied(server, version, from);
        await send(server.smtpAddress, [`a@${E2E_DOMAIN}`, `b@${E2E_DOMAIN}`], "split");
        delivered += 2;
        const messages = await e2e.sink.waitForMessages(delivered, 20_000);
        const split = messages.filter((m) => m.text().includes("Subject: split"));
        assertEquals(split.map((m) => m.rcptTo.length), [1, 1]);
      });

      await t.step("a route to a smarthost is used", async () => {
        const from = Date.now();
        const version = await cli(path, [
          "route",
          "add",
          "domain=elsewhere.test",
          `host=${smarthost.hostname}`,
          `port=${smarthost.port}`,
        ]);
        timings.route = await applied(server, version, from);
        await send(server.smtpAddress, ["someone@elsewhere.test"], "routed");
        const [message] = await smarthost.waitForMessages(1, 20_000);
        assertEquals(message.rcptTo, ["someone@elsewhere.test"]);
      });

      await t.step("every change is audited and a revert applies live", async () => {
        const audit = await runCli(["audit", "list", "--json", "--kind", "vmta", "--config", path]);
        const entries = JSON.parse(audit.stdout) as {
          id: number;
          action: string;
          channel: string;
        }[];
        assertEquals(entries.map((e) => `${e.action}/${e.channel}`), [
          "update/cli",
          "create/cli",
          "create/seed",
        ]);
        // Reverting the disable enables 127.0.0.12 again (weight 100: it takes the next message).
        const from = Date.now();
        const revert = await runCli(["audit", "revert", String(entries[0].id), "--config", path]);
        assertEquals(revert.code, 0, revert.stderr);
        timings.revert = await applied(server, await currentVersion(path), from);
        assertEquals((await next("reverted")).remoteAddress, "127.0.0.12");
      });
      console.log(`applied after (ms, CLI start to node report): ${JSON.stringify(timings)}`);
    } catch (error) {
      e2e.dump();
      throw error;
    }
  },
});

/** The cluster config version, as the audit log's newest entry says. */
async function currentVersion(path: string): Promise<number> {
  const result = await runCli(["audit", "list", "--json", "--limit", "1", "--config", path]);
  const [entry] = JSON.parse(result.stdout) as { config_version: number }[];
  return entry.config_version;
}
