/**
 * Queue operations and pauses through the real server (`main.ts serve`), the CLI, a loopback DNS
 * server and SMTP sinks for the recipients' domain and the sender's mailbox (where DSNs arrive):
 * a paused domain (and one that would fail at once on NXDOMAIN) is held with the pause named,
 * no attempt used, and goes on when the pause is removed; retry now of a deferred message;
 * cancel (no DSN); bounce now (a DSN at the sender's sink); a bulk retry job with progress.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { freePort, tempDir, uniqueLoopbackIp, waitForPort } from "./helpers/net.ts";
import {
  makeServerConfig,
  runCli,
  sendWithSwaks,
  startServer,
  TEST_API_TOKEN,
} from "./helpers/server_process.ts";
import { type SmtpSink, startSmtpSink } from "./helpers/smtp_sink.ts";
import { waitUntil } from "./helpers/wait.ts";

const WAIT_MS = 60_000;

/** RCPTs to <later…@example.org> get 451 until `accepting.later` is set. */
const accepting = { later: false };

async function sinkPair(): Promise<
  { recipients: SmtpSink; senders: SmtpSink; port: number; ipR: string; ipS: string }
> {
  let lastError: unknown;
  for (let i = 0; i < 20; i++) {
    const ipR = uniqueLoopbackIp();
    const ipS = uniqueLoopbackIp();
    const port = freePort(ipR);
    let recipients: SmtpSink | undefined;
    try {
      recipients = await startSmtpSink({
        hostname: ipR,
        port,
        reply: ({ command, arg }) =>
          command === "RCPT" && /<(later|never)/i.test(arg) &&
            !(accepting.later && /<later/i.test(arg))
            ? "451 4.7.1 greylisted, try again later"
            : undefined,
      });
      const senders = await startSmtpSink({ hostname: ipS, port, ehloHostname: "mx.sender.test" });
      return { recipients, senders, port, ipR, ipS };
    } catch (error) {
      lastError = error;
      await recipients?.close();
    }
  }
  throw new Error(`cannot start the sinks: ${lastError}`);
}

async function environment() {
  const dir = tempDir("fastmta-queue-ops-");
  const { recipients, senders, port, ipR, ipS } = await sinkPair();
  const dns = await startDnsServer({
    zones: {
      "example.org": { MX: [{ preference: 10, exchange: "mx.example.org" }] },
      "mx.example.org": { A: [ipR] },
      "sender.test": { MX: [{ preference: 10, exchange: "mx.sender.test" }] },
      "mx.sender.test": { A: [ipS] },
    },
  });
  const base = makeServerConfig({
    dataDir: dir.path,
    smtpPort: freePort(),
    adminPort: freePort(),
    dnsPort: dns.port,
    remotePort: port,
  });
  const config = {
    ...base,
    queue: { poll_interval: "200ms" },
    // Deferred mail waits 10 minutes: only "retry now" brings it back within the test.
    delivery: { ...(base.delivery as object), retry_schedule: ["10m"] },
  };
  const server = await startServer({ config, startupTimeoutMs: WAIT_MS });
  // startServer waits for SMTP; the REST test needs the admin listener too.
  await waitForPort("127.0.0.1", Number(new URL(server.adminUrl!).port), WAIT_MS);
  const cli = async (...args: string[]) => {
    const out = await runCli([args[0], "--config", server.configPath, ...args.slice(1)]);
    return out;
  };
  const ok = async (...args: string[]) => {
    const out = await cli(...args);
    assertEquals(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
    return out;
  };
  return {
    server,
    recipients,
    senders,
    ok,
    send: async (to: string, subject: string) => {
      const result = await sendWithSwaks({
        server: server.smtpAddress,
        from: "alice@sender.test",
        to: [to],
        data:
          `From: <alice@sender.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`,
      });
      assertEquals(result.code, 0, result.stdout + result.stderr);
      assert(result.queueId);
      return result.queueId;
    },
    /** The message's detail, as `queue show` prints it. */
    show: async (id: string) =>
      JSON.parse((await ok("queue", "show", id)).stdout) as {
        recipients: { address: string; state: string; last_reply: string | null }[];
        attempts: { outcome: string }[];
        units: { state: string; attempts: number }[];
      },
    /** Units of one message as `queue list` prints them (JSON). */
    units: async (id: string) =>
      JSON.parse((await ok("queue", "list", "--id", id, "--json")).stdout).items as {
        state: string;
        attempts: number;
        held: string | null;
        last_reply: string | null;
      }[],
    close: async () => {
      try {
        await server.stop();
      } finally {
        await Promise.all([recipients.close(), senders.close(), dns.close()]);
        await dir[Symbol.asyncDispose]();
      }
    },
  };
}

type Env = Awaited<ReturnType<typeof environment>>;

async function withEnv(fn: (env: Env) => Promise<void>) {
  accepting.later = false;
  const env = await environment();
  try {
    await fn(env);
  } catch (error) {
    console.error(`--- fastmta server output ---\n${env.server.logs()}`);
    throw error;
  } finally {
    await env.close();
  }
}

Deno.test("a paused domain is held before any lookup, no attempt used, then delivered", async () => {
  await withEnv(async (env) => {
    const pause = JSON.parse(
      (await env.ok("pause", "add", "--domain", "example.org", "--reason", "complaints")).stdout,
    );
    // A domain that does not exist: unpaused it fails at once on NXDOMAIN.
    const nx = JSON.parse((await env.ok("pause", "add", "--domain", "nx.invalid")).stdout);
    await waitUntil(
      () => env.server.logs().includes(`pause ${nx.id} (domain nx.invalid) in force`),
      {
        message: "the server to read the pauses",
        timeoutMs: WAIT_MS,
      },
    );
    const id = await env.send("bob@example.org", "paused");
    const nxId = await env.send("carol@nx.invalid", "paused nx");
    for (const [message, p] of [[id, pause], [nxId, nx]]) {
      const [unit] = await waitUntil(async () => {
        const units = await env.units(message);
        return units[0]?.state === "paused" ? units : null;
      }, { message: `${message} to be held`, timeoutMs: WAIT_MS });
      assertEquals(unit.attempts, 0, "no attempt used");
      assertEquals(unit.held, "cluster_pause");
      assertMatch(unit.last_reply ?? "", new RegExp(`^held by pause ${p.id} on node-a \\(domain `));
      assertEquals((await env.show(message)).attempts, [], "nothing in the delivery log");
    }
    assertMatch((await env.units(id))[0].last_reply ?? "", /until removed: complaints$/);
    assertEquals(env.recipients.messages.length, 0);
    assertEquals(env.server.logs().includes("nx.invalid: "), false);

    await env.ok("pause", "remove", pause.id);
    await env.ok("pause", "remove", nx.id);
    const [delivered] = await env.recipients.waitForMessages(1, WAIT_MS);
    assertEquals(delivered.rcptTo, ["bob@example.org"]);
    // The NXDOMAIN domain is tried only now, and fails (a DSN goes to the sender).
    await waitUntil(async () => (await env.show(nxId)).recipients[0].state === "failed", {
      message: "the NXDOMAIN recipient to fail once resumed",
      timeoutMs: WAIT_MS,
    });
    const listed = JSON.parse((await env.ok("pause", "list", "--json")).stdout);
    assertEquals(listed, []);
  });
});

Deno.test("retry now, cancel (no DSN), bounce now (DSN) and a bulk retry job", async () => {
  await withEnv(async (env) => {
    const later = await env.send("later@example.org", "retry me");
    const cancelled = await env.send("never@example.org", "cancel me");
    const bounced = await env.send("never2@example.org", "bounce me");
    const bulk = [
      await env.send("later1@example.org", "bulk 1"),
      await env.send("later2@example.org", "bulk 2"),
    ];
    for (const id of [later, cancelled, bounced, ...bulk]) {
      await waitUntil(async () => (await env.units(id))[0]?.state === "deferred", {
        message: `${id} to be deferred`,
        timeoutMs: WAIT_MS,
      });
    }
    accepting.later = true;

    // Retry now: due at once instead of in an hour.
    const retried = JSON.parse((await env.ok("queue", "retry", later)).stdout);
    assertEquals(retried, { message_id: later, action: "retry", units: 1 });
    const [first] = await env.recipients.waitForMessages(1, WAIT_MS);
    assertEquals(first.rcptTo, ["later@example.org"]);

    // Cancel: failed with a log row, no DSN.
    const cancel = JSON.parse((await env.ok("queue", "cancel", cancelled)).stdout);
    assertEquals(cancel, { units: 1, recipients: 1 });
    const shown = await env.show(cancelled);
    assertEquals(shown.recipients[0].state, "failed");
    assertMatch(shown.recipients[0].last_reply ?? "", /^cancelled by cli:/);
    assertEquals(shown.attempts.at(-1)?.outcome, "cancelled");

    // Bounce now: a DSN at the sender's sink (the only one: the cancel sent none).
    await env.ok("queue", "bounce", bounced, "--reason", "spam run");
    const [dsn] = await env.senders.waitForMessages(1, WAIT_MS);
    assertEquals(dsn.mailFrom, "");
    assertEquals(dsn.rcptTo, ["alice@sender.test"]);
    const text = new TextDecoder().decode(dsn.data);
    assertMatch(text, /never2@example\.org/);
    assertMatch(text, /bounced by the operator \(cli:[^:]+: spam run\)/);

    // Bulk: every deferred unit of the domain, with a count first and progress on stderr.
    const job = await env.ok("queue", "retry", "--domain", "example.org", "--state", "deferred");
    assertMatch(job.stderr, /^2 units match$/m);
    assertMatch(job.stderr, /\[#+\] 2 \/ 2 units, 2 changed/);
    const end = JSON.parse(job.stdout);
    assertEquals([end.state, end.total, end.done, end.changed], ["done", 2, 2, 2]);
    await env.recipients.waitForMessages(3, WAIT_MS);
    assertEquals(env.recipients.messages.flatMap((m) => m.rcptTo).sort(), [
      "later1@example.org",
      "later2@example.org",
      "later@example.org",
    ]);
    const progress = JSON.parse((await env.ok("queue", "job", end.id)).stdout);
    assertEquals(progress.done, 2);
    assertEquals(env.senders.messages.length, 1, "only the bounce made a DSN");
  });
});

Deno.test("REST: pauses, unit search, a bulk job with progress, problems naming the field", async () => {
  await withEnv(async (env) => {
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${env.server.adminUrl}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_API_TOKEN}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    };
    const pause = await api("POST", "/pauses", { domain: "example.org", reason: "api" });
    assertEquals(pause.status, 201, JSON.stringify(pause.body));
    assertEquals((await api("GET", "/pauses")).body.items[0].id, pause.body.id);
    await waitUntil(() => env.server.logs().includes(`pause ${pause.body.id} (`), {
      message: "the server to read the pause",
      timeoutMs: WAIT_MS,
    });
    const id = await env.send("bob@example.org", "paused via api");
    await waitUntil(async () => {
      const found = await api("GET", `/queue/units?id=${id}&state=paused`);
      return found.body.items.length === 1;
    }, { message: "the unit to be held", timeoutMs: WAIT_MS });
    const bad = await api("GET", "/queue/units?state=lost");
    assertEquals(bad.status, 400);
    assertMatch(JSON.stringify(bad.body.errors), /state/);
    const dry = await api("POST", "/queue/actions", {
      action: "hold",
      filter: { domain: "example.org" },
      dry_run: true,
    });
    assertEquals([dry.status, dry.body], [200, { total: 1 }]);
    const job = await api("POST", "/queue/actions", { action: "hold", filter: { id } });
    assertEquals(job.status, 202, JSON.stringify(job.body));
    const done = await waitUntil(async () => {
      const j = await api("GET", `/queue/actions/${job.body.id}`);
      return j.body.state === "done" ? j.body : null;
    }, { message: "the job to finish", timeoutMs: WAIT_MS });
    assertEquals([done.total, done.done, done.changed], [1, 1, 1]);
    assertEquals((await api("DELETE", `/pauses/${pause.body.id}`)).status, 204);
    assertEquals((await api("DELETE", `/pauses/${pause.body.id}`)).status, 404);
    const released = await api("POST", `/messages/${id}/release`);
    assertEquals(released.status, 200, JSON.stringify(released.body));
    const [delivered] = await env.recipients.waitForMessages(1, WAIT_MS);
    assertEquals(delivered.rcptTo, ["bob@example.org"]);
  });
});
