/**
 * End to end on the embedded default: a real server process, a real DNS server and SMTP sink on
 * loopback, and clients we did not write (swaks, Python smtplib).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import type { DnsRecords } from "./helpers/dns_server.ts";
import { E2E_DOMAIN as DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import {
  adminApi,
  sendWithSmtplib,
  sendWithSwaks,
  type ServerConfig,
  type ServerProcess,
} from "./helpers/server_process.ts";
import type { SinkCommandContext, SmtpSink } from "./helpers/smtp_sink.ts";
import { waitUntil } from "./helpers/wait.ts";

interface Fixture extends AsyncDisposable {
  server: ServerProcess;
  sink: SmtpSink;
  messageStatus(id: string): Promise<MessageStatusJson | null>;
  restart(): Promise<void>;
}

interface MessageStatusJson {
  id: string;
  recipients: { address: string; state: string; attempts: number; last_code: number | null }[];
  attempts: { outcome: string; code: number | null; reply: string | null; source_ip: string }[];
}

/** One node on the shared end-to-end fixture; `restart` starts it again on the same data. */
async function setup(opts: {
  reply?: (ctx: SinkCommandContext) => string | undefined | Promise<string | undefined>;
  zones?: (sinkIp: string) => Record<string, DnsRecords>;
  config?: (config: ServerConfig) => void;
} = {}): Promise<Fixture> {
  const e2e = await startE2eFixture({ sinkReply: opts.reply, zones: opts.zones });
  try {
    const config = e2e.nodeConfig();
    opts.config?.(config);
    let server = await e2e.start(config);
    return {
      get server() {
        return server;
      },
      sink: e2e.sink,
      async messageStatus(id) {
        const { status, body } = await adminApi<MessageStatusJson>(
          server,
          `/api/v1/messages/${id}`,
        );
        return status === 404 ? null : body;
      },
      async restart() {
        server = await e2e.start(config);
      },
      [Symbol.asyncDispose]: () => e2e[Symbol.asyncDispose](),
    };
  } catch (error) {
    await e2e[Symbol.asyncDispose]();
    throw error;
  }
}

function message(subject: string, extra = ""): string {
  return [
    "From: Sender <sender@origin.test>",
    `To: <rcpt@${DOMAIN}>`,
    `Subject: ${subject}`,
    `Message-ID: <${crypto.randomUUID()}@origin.test>`,
    "",
    "Hello from the end-to-end test.",
    ".a line that starts with a dot",
    extra,
    "",
  ].join("\r\n");
}

async function waitForState(f: Fixture, id: string, state: string) {
  return await waitUntil(async () => {
    const status = await f.messageStatus(id);
    return status && status.recipients.every((r) => r.state === state) ? status : null;
  }, { timeoutMs: 30_000, message: `message ${id} ${state}` });
}

Deno.test("a message from swaks is relayed by MX to the sink, byte for byte", async () => {
  await using f = await setup();
  const data = message("swaks test");
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`rcpt@${DOMAIN}`],
    data,
  });
  assertEquals(sent.code, 0, sent.stdout + sent.stderr);
  assert(sent.queueId, `no queue id in: ${sent.stdout}`);

  const [received] = await f.sink.waitForMessages(1);
  assertEquals(received.mailFrom, "sender@origin.test");
  assertEquals(received.rcptTo, [`rcpt@${DOMAIN}`]);
  assertEquals(received.remoteAddress, "127.0.0.10");
  assertEquals(received.helo, "vmta1.test");
  const text = received.text();
  // Our Received: header comes first, then exactly what the client sent.
  assertMatch(
    text,
    new RegExp(`^Received: from .*\\r\\n\\tby mx\\.fastmta\\.test .* id ${sent.queueId}`),
  );
  assert(text.endsWith(data), "the body after our Received header is what the client sent");

  const status = await waitForState(f, sent.queueId, "delivered");
  assertEquals(status.attempts.length, 1);
  assertEquals(status.attempts[0].code, 250);
  assertEquals(status.attempts[0].source_ip, "127.0.0.10");
});

Deno.test("database.body_spool database: bodies in the messages table, relayed byte for byte", async () => {
  let dataDir = "";
  await using f = await setup({
    config: (config) => {
      const database = config.database as Record<string, unknown>;
      database.body_spool = "database";
      dataDir = String(config.data_dir);
    },
  });
  const data = message("database form");
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`rcpt@${DOMAIN}`],
    data,
  });
  assertEquals(sent.code, 0, sent.stdout + sent.stderr);
  const [received] = await f.sink.waitForMessages(1);
  assert(received.text().endsWith(data), "the body after our Received header is what was sent");
  await waitForState(f, sent.queueId!, "delivered");
  // Nothing was spooled: no segment file beside the database.
  assert((await Deno.stat(`${dataDir}/fastmta.db`)).isFile);
  const spool = await Array.fromAsync(Deno.readDir(`${dataDir}/fastmta.db-spool`))
    .catch(() => []);
  assertEquals(spool, []);
});

Deno.test("a message from Python smtplib to two domains reaches both (MX and A fallback)", async () => {
  await using f = await setup({
    zones: (ip) => ({
      [DOMAIN]: { MX: [{ preference: 10, exchange: `mx1.${DOMAIN}` }] },
      [`mx1.${DOMAIN}`]: { A: [ip] },
      // No MX: the domain's own address is the implicit MX (RFC 5321 §5.1).
      "plain.test": { A: [ip] },
    }),
  });
  const sent = await sendWithSmtplib({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`a@${DOMAIN}`, "b@plain.test", `c@${DOMAIN}`],
    data: message("smtplib test"),
  });
  assert(sent.queueId, JSON.stringify(sent));
  const received = await f.sink.waitForMessages(2);
  const recipients = received.map((m) => m.rcptTo.join(",")).sort();
  assertEquals(recipients, [`a@${DOMAIN},c@${DOMAIN}`, "b@plain.test"]);
  await waitForState(f, sent.queueId, "delivered");
});

Deno.test("451 is retried on the schedule, then delivered", async () => {
  await using f = await setup({
    reply: (ctx) =>
      ctx.command === "DATA_END" && ctx.messageIndex === 0
        ? "451 4.7.1 Greylisted, try again"
        : undefined,
  });
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`rcpt@${DOMAIN}`],
    data: message("greylisted"),
  });
  assert(sent.queueId);
  const status = await waitForState(f, sent.queueId, "delivered");
  assertEquals(status.attempts.map((a) => [a.outcome, a.code]), [["deferred", 451], [
    "delivered",
    250,
  ]]);
  assertEquals(f.sink.messages.length, 1);
});

Deno.test("550 fails the recipient and is not retried", async () => {
  await using f = await setup({
    reply: (ctx) => ctx.command === "RCPT" ? "550 5.1.1 No such user here" : undefined,
  });
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`nobody@${DOMAIN}`],
    data: message("bad mailbox"),
  });
  assert(sent.queueId);
  const status = await waitForState(f, sent.queueId, "failed");
  assertEquals(status.recipients[0].last_code, 550);
  assertEquals(status.attempts.length, 1);
  // The retry schedule is 1 s: were it retried, a second RCPT would come within ~1 s. Waiting for
  // the queue to report nothing due is the condition, not a sleep.
  await waitUntil(async () => {
    const { body: counts } = await adminApi<Record<string, number>>(f.server, "/api/v1/queue");
    return counts.queued === 0 && counts.deferred === 0 && counts.in_flight_units === 0;
  });
  assertEquals((await f.messageStatus(sent.queueId))!.attempts.length, 1);
});

Deno.test("mail from outside the relay networks to a foreign domain is refused", async () => {
  await using f = await setup({
    config: (c) => {
      (c.smtp as Record<string, unknown>).relay_networks = ["127.0.0.99/32"];
    },
  });
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`rcpt@${DOMAIN}`],
    data: message("relay attempt"),
  });
  assert(sent.code !== 0);
  assertMatch(sent.stdout, /554 5\.7\.1 .*Relay access denied/);
});

Deno.test("kill -9 while a delivery is in flight: re-delivered once after restart", async () => {
  let hold = true;
  const released = Promise.withResolvers<void>();
  let firstDataSeen = Promise.withResolvers<void>();
  await using f = await setup({
    reply: async (ctx) => {
      if (ctx.command === "DATA" && hold) {
        firstDataSeen.resolve();
        await released.promise; // never answered while the first server lives
        return "421 4.3.2 going away";
      }
      return undefined;
    },
  });
  const sent = await sendWithSwaks({
    server: f.server.smtpAddress,
    from: "sender@origin.test",
    to: [`rcpt@${DOMAIN}`],
    data: message("in flight"),
  });
  assert(sent.queueId);
  await firstDataSeen.promise;
  await f.server.kill("SIGKILL");
  hold = false;
  released.resolve();
  firstDataSeen = Promise.withResolvers<void>();

  await f.restart();
  await waitForState(f, sent.queueId, "delivered");
  assertEquals(f.sink.messages.length, 1, "delivered exactly once");
});

Deno.test("kill -9 during a stream of accepts: every 250'd message is delivered", async () => {
  await using f = await setup();
  const count = 300;
  const script = `
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", ${f.server.smtpPort}, timeout=30)
s.ehlo("loadgen")
for i in range(${count}):
    msg = "From: a@origin.test\\r\\nTo: r@${DOMAIN}\\r\\nSubject: n%d\\r\\n\\r\\nbody %d\\r\\n" % (i, i)
    s.mail("a@origin.test")
    s.rcpt("r@${DOMAIN}")
    code, resp = s.data(msg)
    print(i, code, resp.decode(), flush=True)
`;
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const accepted = new Set<string>();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let killed = false;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const match = line.match(/^(\d+) 250 .*queued as (\S+)/);
      if (match) accepted.add(`n${match[1]}`);
    }
    if (!killed && accepted.size >= count / 3) {
      killed = true;
      await f.server.kill("SIGKILL");
    }
  }
  await child.status;
  await child.stderr.cancel();
  assert(
    killed && accepted.size >= count / 3 && accepted.size < count,
    `accepted ${accepted.size}`,
  );

  await f.restart();
  await waitUntil(() => {
    const subjects = new Set(f.sink.messages.map((m) => m.text().match(/Subject: (n\d+)/)?.[1]));
    return [...accepted].every((s) => subjects.has(s));
  }, { timeoutMs: 60_000, message: "every accepted message at the sink" });
  const perSubject = new Map<string, number>();
  for (const m of f.sink.messages) {
    const s = m.text().match(/Subject: (n\d+)/)![1];
    perSubject.set(s, (perSubject.get(s) ?? 0) + 1);
  }
  const duplicates = [...perSubject.values()].filter((n) => n > 1).length;
  console.log(`accepted ${accepted.size}, at sink ${perSubject.size}, duplicates ${duplicates}`);
});
