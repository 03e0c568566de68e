/**
 * Delivery through the real server (`main.ts serve` as a child process, mail sent with swaks):
 * source IP binding and pool choice by header with two delivery workers (site dispatch), and
 * stored shaping rules changed with `fastmta shaping` taking effect on SIGHUP without a restart.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { freePort, uniqueLoopbackIp } from "./helpers/net.ts";
import { sendWithSwaks, startServer } from "./helpers/server_process.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { waitUntil } from "./helpers/wait.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function message(to: string, extra = ""): string {
  return `From: <sender@origin.test>\r\nTo: <${to}>\r\nSubject: server test\r\n${extra}\r\nHello.\r\n`;
}

async function serverSetup(domains: string[], extraConfig: Record<string, unknown> = {}) {
  const ip = uniqueLoopbackIp();
  const sink = await startSmtpSink({ hostname: ip });
  const zones: Record<string, { MX?: { preference: number; exchange: string }[]; A?: string[] }> = {
    "mx.server.test": { A: [ip] },
  };
  for (const d of domains) zones[d] = { MX: [{ preference: 10, exchange: "mx.server.test" }] };
  const dns = await startDnsServer({ zones });
  const dir = await Deno.makeTempDir({ prefix: "fastmta-server-" });
  const config = {
    data_dir: dir,
    smtp: { listen: [`127.0.0.1:${freePort()}`], hostname: "relay.server.test" },
    admin: { listen: `127.0.0.1:${freePort()}` },
    ip_addressess: [
      { ip: "127.0.0.10", hostname: "ten.vmta.test", outbound: true, group_id: "blue" },
      { ip: "127.0.0.11", hostname: "eleven.vmta.test", outbound: true, group_id: "green" },
    ],
    dns: { servers: [dns.address] },
    queue: { poll_interval: "100ms" },
    ...extraConfig,
    delivery: {
      workers: 2,
      remote_port: sink.port,
      default_pool: "blue",
      ...(extraConfig.delivery as Record<string, unknown> ?? {}),
    },
  };
  const server = await startServer({ config });
  return {
    sink,
    dns,
    dir,
    config,
    server,
    async [Symbol.asyncDispose]() {
      await server.stop();
      await sink.close();
      await dns.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("server: mail leaves from the pool's source IP, chosen by header", async () => {
  await using env = await serverSetup(["blue.test", "green.test"]);
  const plain = await sendWithSwaks({
    server: env.server.smtpAddress,
    from: "sender@origin.test",
    to: ["a@blue.test"],
    data: message("a@blue.test"),
  });
  assertEquals(plain.code, 0, plain.stdout);
  const green = await sendWithSwaks({
    server: env.server.smtpAddress,
    from: "sender@origin.test",
    to: ["b@green.test"],
    data: message("b@green.test", "X-FastMTA-Pool: green\r\n"),
  });
  assertEquals(green.code, 0, green.stdout);
  const messages = await env.sink.waitForMessages(2, 30_000);
  const byRcpt = Object.fromEntries(messages.map((m) => [m.rcptTo[0], m]));
  assertEquals(byRcpt["a@blue.test"].remoteAddress, "127.0.0.10");
  assertEquals(byRcpt["a@blue.test"].helo, "ten.vmta.test");
  assertEquals(byRcpt["b@green.test"].remoteAddress, "127.0.0.11");
  assertEquals(byRcpt["b@green.test"].helo, "eleven.vmta.test");
  assert(!/X-FastMTA-Pool/i.test(byRcpt["b@green.test"].text()), "control header removed");
});

Deno.test("server: shaping pause stores a cluster-wide pause, and resuming delivers", async () => {
  await using env = await serverSetup(["hold.test"], {
    delivery: { rules_reload_interval: "1h", pause_recheck: "1h" },
  });
  const configPath = env.server.configPath;
  const shaping = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "shaping", "--config", configPath, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  };
  // A domain's pause is a stored pause (core/schedule/pauses.ts): read every second, no SIGHUP.
  await shaping("pause", "hold.test");
  await waitUntil(() => /pause p-\S+ \(domain hold\.test\) in force/.test(env.server.logs()), {
    message: "the server read the pause",
  });

  const sent = await sendWithSwaks({
    server: env.server.smtpAddress,
    from: "sender@origin.test",
    to: ["u@hold.test"],
    data: message("u@hold.test"),
  });
  assertEquals(sent.code, 0, sent.stdout);
  const id = sent.queueId!;
  const store = await openStore(parseConfig(env.config), "admin");
  try {
    await waitUntil(async () => {
      const row = await store.db.selectFrom("queue").select("held")
        .where("message_id", "=", id).executeTakeFirst();
      return row?.held === "cluster_pause";
    }, { message: "the unit is held by the pause" });
    assertEquals(env.sink.messages.length, 0);

    await shaping("resume", "hold.test");
    const [delivered] = await env.sink.waitForMessages(1, 30_000);
    assertEquals(delivered.rcptTo, ["u@hold.test"]);
    await waitUntil(async () =>
      (await store.messageStatus(id))?.recipients[0].state === "delivered"
    );
  } finally {
    await store.close();
  }
});
