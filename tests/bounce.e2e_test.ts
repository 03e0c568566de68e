/**
 * Bounces and DKIM through the real server: `main.ts serve` as a subprocess, a loopback DNS
 * server, and SMTP sinks for the recipients' domain and for the sender's own mailbox (where
 * DSNs arrive).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { freePort, tempDir, uniqueLoopbackIp } from "./helpers/net.ts";
import { makeServerConfig, runCli, sendWithSwaks, startServer } from "./helpers/server_process.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "./helpers/smtp_sink.ts";
import { parseMail, statusBlocks } from "./helpers/mail.ts";
import { verifyDkim } from "./helpers/dkim_verify.ts";
import { hasDkimpy, verifyWithDkimpy } from "./helpers/dkimpy.ts";
import { waitUntil } from "./helpers/wait.ts";
import { loadConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { newQueueId } from "../core/accept/mod.ts";

/** Upper bound for waits (never a sleep): generous, CI machines may be busy. */
const WAIT_MS = 60_000;

/** Two sinks on one port (the server delivers to one remote port) at two loopback addresses. */
async function sinkPair(
  recipientOptions: SmtpSinkOptions,
): Promise<{ recipients: SmtpSink; senders: SmtpSink; port: number; ipR: string; ipS: string }> {
  let lastError: unknown;
  for (let i = 0; i < 20; i++) {
    const ipR = uniqueLoopbackIp();
    const ipS = uniqueLoopbackIp();
    const port = freePort(ipR);
    let recipients: SmtpSink | undefined;
    try {
      recipients = await startSmtpSink({ ...recipientOptions, hostname: ipR, port });
      const senders = await startSmtpSink({ hostname: ipS, port, ehloHostname: "mx.sender.test" });
      return { recipients, senders, port, ipR, ipS };
    } catch (error) {
      lastError = error;
      await recipients?.close();
    }
  }
  throw new Error(`cannot start the sinks: ${lastError}`);
}

function message(from: string, to: string, subject: string): string {
  return `From: Alice <${from || "mailer-daemon@sender.test"}>\r\nTo: <${to}>\r\n` +
    `Subject: ${subject}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n` +
    `Message-ID: <${crypto.randomUUID()}@sender.test>\r\nMIME-Version: 1.0\r\n` +
    `Content-Type: text/plain; charset=us-ascii\r\n\r\nHello,\r\n\r\n${subject}.\r\n`;
}

/** Everything one test needs; `close` stops it all. */
async function environment(recipientOptions: SmtpSinkOptions = {}) {
  const dir = tempDir("fastmta-bounce-");
  const { recipients, senders, port, ipR, ipS } = await sinkPair(recipientOptions);
  const dns = await startDnsServer({
    zones: {
      "example.org": { MX: [{ preference: 10, exchange: "mx.example.org" }] },
      "mx.example.org": { A: [ipR] },
      "sender.test": { MX: [{ preference: 10, exchange: "mx.sender.test" }] },
      "mx.sender.test": { A: [ipS] },
    },
  });
  const config = {
    ...makeServerConfig({
      dataDir: dir.path,
      smtpPort: freePort(),
      adminPort: freePort(),
      dnsPort: dns.port,
      remotePort: port,
    }),
    queue: { poll_interval: "200ms" },
    dkim: { refresh_interval: "200ms" },
  };
  let server;
  try {
    server = await startServer({
      config,
      startupTimeoutMs: WAIT_MS,
      echo: Deno.env.get("ECHO") === "1",
    });
  } catch (error) {
    await Promise.all([recipients.close(), senders.close(), dns.close()]);
    await dir[Symbol.asyncDispose]();
    throw error;
  }
  return {
    dir,
    dns,
    recipients,
    senders,
    server,
    send: async (from: string, to: string, subject: string) => {
      const result = await sendWithSwaks({
        server: server.smtpAddress,
        from,
        to: [to],
        data: message(from, to, subject),
      });
      assertEquals(result.code, 0, result.stdout + result.stderr);
      assert(result.queueId, "the server returned a queue id");
      return result.queueId;
    },
    queueStatus: async (id: string) => {
      const out = await runCli(["queue", "--config", server.configPath, "--message", id]);
      assertEquals(out.code, 0, out.stderr);
      return JSON.parse(out.stdout) as {
        recipients: { address: string; state: string; last_reply: string | null }[];
      };
    },
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

async function withEnv(
  options: SmtpSinkOptions,
  fn: (env: Env) => Promise<void>,
): Promise<void> {
  const env = await environment(options);
  try {
    await fn(env);
  } catch (error) {
    console.error(`--- fastmta server output ---\n${env.server.logs()}`);
    throw error;
  } finally {
    await env.close();
  }
}

/** The recipients' MX: 550 5.1.1 for bob and carol, everyone else is accepted. */
const REJECTING: SmtpSinkOptions = {
  reply: ({ command, arg }) => {
    if (command === "RCPT" && /<(bob|carol)@example\.org>/i.test(arg)) {
      return "550 5.1.1 <" + arg.replace(/^TO:\s*<|>.*$/gi, "") +
        ">: Recipient address rejected: User unknown in virtual mailbox table";
    }
    return undefined;
  },
};

Deno.test("a 550 sends a DSN to the sender's mailbox, then the address is suppressed", async () => {
  const rcptLog: string[] = [];
  const options: SmtpSinkOptions = {
    reply: (ctx) => {
      if (ctx.command === "RCPT") rcptLog.push(ctx.arg);
      return REJECTING.reply!(ctx);
    },
  };
  await withEnv(options, async (env) => {
    const id = await env.send("alice@sender.test", "bob@example.org", "First try");
    const [dsn] = await env.senders.waitForMessages(1, WAIT_MS);
    assertEquals(dsn.mailFrom, "", "a DSN comes from the null sender");
    assertEquals(dsn.rcptTo, ["alice@sender.test"]);

    const parsed = await parseMail(dsn.data);
    const type = parsed.headers.get("content-type") as {
      value: string;
      params: Record<string, string>;
    };
    assertEquals(type.value, "multipart/report");
    assertEquals(type.params["report-type"], "delivery-status");
    const status = parsed.attachments.find((a) => a.contentType === "message/delivery-status");
    assert(status, "a message/delivery-status part");
    const [perMessage, bob] = statusBlocks(status.content.toString("utf8"));
    assertEquals(perMessage["reporting-mta"], "dns; mx.fastmta.test");
    assertMatch(perMessage["arrival-date"], /\d{4} \d\d:\d\d:\d\d \+0000$/);
    assertEquals(bob["final-recipient"], "rfc822; bob@example.org");
    assertEquals(bob.action, "failed");
    assertMatch(bob.status, /^5\.\d+\.\d+$/);
    assertEquals(bob.status, "5.1.1");
    assertEquals(bob["remote-mta"], "dns; mx.example.org");
    assertMatch(
      bob["diagnostic-code"],
      /^smtp; 550 5\.1\.1 <bob@example\.org>: Recipient address rejected/,
    );
    const original = parsed.attachments.find((a) => a.contentType === "message/rfc822");
    assert(original, "the original message is returned");
    assertMatch(original.content.toString("utf8"), /Subject: First try/);

    const first = await env.queueStatus(id);
    assertEquals(first.recipients.map((r) => r.state), ["failed"]);

    // Second message to the same address: suppressed, no connection, no RCPT.
    const connections = env.recipients.connections;
    const rcpts = rcptLog.filter((l) => /bob@/.test(l)).length;
    await waitUntil(() => /suppressing <bob@example\.org> until/.test(env.server.logs()), {
      message: "the suppression to be recorded",
      timeoutMs: WAIT_MS,
    });
    const second = await env.send("alice@sender.test", "bob@example.org", "Second try");
    await env.senders.waitForMessages(2, WAIT_MS);
    const secondStatus = await env.queueStatus(second);
    assertEquals(secondStatus.recipients.map((r) => r.state), ["suppressed"]);
    assertMatch(
      secondStatus.recipients[0].last_reply ?? "",
      /^recipient suppressed until .*: 550 5\.1\.1/,
    );
    assertMatch(
      env.server.logs(),
      new RegExp(`${second}: not sending to <bob@example\\.org>: recipient suppressed`),
    );
    assertEquals(env.recipients.connections, connections, "no new connection to the MX");
    assertEquals(rcptLog.filter((l) => /bob@/.test(l)).length, rcpts, "no RCPT for bob");
    const dsn2 = await parseMail(env.senders.messages[1].data);
    const status2 = dsn2.attachments.find((a) => a.contentType === "message/delivery-status")!;
    const [, bob2] = statusBlocks(status2.content.toString("utf8"));
    assertEquals(bob2.status, "5.1.1");
    assertMatch(bob2["diagnostic-code"], /^X-fastmta; recipient suppressed until/);

    // Other addresses still go out.
    await env.send("alice@sender.test", "dave@example.org", "Still fine");
    await env.recipients.waitForMessages(1, WAIT_MS);

    // The operator lifts the suppression: the next message is tried (and bounces again).
    const cli = (...args: string[]) => runCli([...args, "--config", env.server.configPath]);
    const listed = await cli("suppression", "list");
    assertMatch(listed.stdout, /^bob@example\.org\tbad_mailbox\tuntil \d{4}-.*550 5\.1\.1/m);
    assertEquals((await cli("suppression", "remove", "Bob@Example.org")).code, 0);
    assertEquals((await cli("suppression", "remove", "bob@example.org")).code, 1);
    assertEquals(JSON.parse((await cli("suppression", "list", "--json")).stdout), []);
    await env.send("alice@sender.test", "bob@example.org", "Third try");
    await env.senders.waitForMessages(3, WAIT_MS);
    assertEquals(rcptLog.filter((l) => /bob@/.test(l)).length, rcpts + 1, "bob was tried again");
  });
});

Deno.test("no DSN for a null-sender message, nor when NOTIFY=NEVER was stored", async () => {
  await withEnv(REJECTING, async (env) => {
    const bounced = await env.send("", "bob@example.org", "Null sender");
    await waitUntil(
      () => env.server.logs().includes(`${bounced}: no DSN for 1 recipients: null sender`),
      { message: "the null-sender failure to be settled", timeoutMs: WAIT_MS },
    );

    // The DSN parameters as the SMTP inbound stores them (meta.dsn), written as it would.
    const config = await loadConfig(env.server.configPath);
    const store = await openStore(config, "accept");
    const never = newQueueId();
    const body = new TextEncoder().encode(message("alice@sender.test", "carol@example.org", "N"));
    try {
      await store.insertMessages([{
        id: never,
        sender: "alice@sender.test",
        recipients: ["carol@example.org"],
        channel: "smtp",
        clientIp: "127.0.0.1",
        receivedAt: Date.now(),
        body,
        meta: {
          dsn: { ret: "HDRS", envid: "E1", rcpt: { "carol@example.org": { notify: "NEVER" } } },
        },
      }]);
    } finally {
      await store.close();
    }
    await waitUntil(
      () =>
        env.server.logs().includes(`${never}: no DSN for 1 recipients: NOTIFY excludes FAILURE`),
      { message: "the NOTIFY=NEVER failure to be settled", timeoutMs: WAIT_MS },
    );
    assertEquals((await env.queueStatus(never)).recipients.map((r) => r.state), ["failed"]);
    // Nothing reached the sender's mailbox, and nothing else is queued.
    assertEquals(env.senders.messages.length, 0);
    const counts = await runCli(["queue", "--config", env.server.configPath, "--json"]);
    const c = JSON.parse(counts.stdout);
    assertEquals([c.queued, c.deferred, c.failed], [0, 0, 2]);
  });
});

Deno.test("DKIM: RSA and Ed25519 keys from the CLI sign delivered mail; mailauth verifies", async () => {
  await withEnv({}, async (env) => {
    const records = new Map<string, string>();
    for (const [selector, algorithm] of [["rsa1", "rsa"], ["ed1", "ed25519"]]) {
      const out = await runCli([
        "dkim",
        "generate",
        "sender.test",
        selector,
        "--algorithm",
        algorithm,
        "--json",
        "--config",
        env.server.configPath,
      ]);
      assertEquals(out.code, 0, out.stderr);
      const key = JSON.parse(out.stdout) as { name: string; value: string };
      env.dns.setRecords(key.name, { TXT: [key.value] });
      records.set(key.name, key.value);
    }
    const master = await Deno.stat(`${env.dir.path}/dkim_master.key`);
    assertEquals(master.mode! & 0o777, 0o600);
    const listed = await runCli(["dkim", "list", "--config", env.server.configPath]);
    assertMatch(listed.stdout, /sender\.test\trsa1\trsa-sha256/);
    assertMatch(listed.stdout, /sender\.test\ted1\ted25519-sha256/);

    await env.send("alice@sender.test", "dave@example.org", "Signed mail");
    const [received] = await env.recipients.waitForMessages(1, WAIT_MS);
    const text = received.text();
    assertMatch(
      text,
      /^DKIM-Signature: v=1; a=(rsa|ed25519)-sha256; c=relaxed\/relaxed; d=sender\.test;/,
    );

    // Verify against the loopback DNS server, as a receiver would.
    const lookup = async (name: string) => {
      const txt = await Deno.resolveDns(name, "TXT", {
        nameServer: { ipAddr: "127.0.0.1", port: env.dns.port },
      });
      return txt.map((parts) => parts.join(""))[0];
    };
    const verdicts = await verifyDkim(received.data, lookup);
    assertEquals(verdicts.map((v) => `${v.domain} ${v.selector} ${v.result}`).sort(), [
      "sender.test ed1 pass",
      "sender.test rsa1 pass",
    ]);
    if (await hasDkimpy()) {
      // A second verifier that shares no code with mailauth (the signer).
      assertEquals(await verifyWithDkimpy(received.data, records), ["pass", "pass"]);
    } else {
      console.warn("python3-dkim missing: skipped the dkimpy cross-check (see .ci/run)");
    }
    const tampered = new TextEncoder().encode(text.replace("Signed mail.", "Signed mail!"));
    for (const v of await verifyDkim(tampered, lookup)) {
      assert(v.result !== "pass", `tampered body must not pass (${v.selector}: ${v.result})`);
    }
    const forged = new TextEncoder().encode(text.replace("Subject: Signed mail", "Subject: Hi"));
    for (const v of await verifyDkim(forged, lookup)) assertEquals(v.result, "fail");

    // Removing the keys stops signing (after the refresh interval).
    for (const selector of ["rsa1", "ed1"]) {
      const out = await runCli([
        "dkim",
        "remove",
        "sender.test",
        selector,
        "--config",
        env.server.configPath,
      ]);
      assertEquals(out.code, 0, out.stderr);
    }
    await waitUntil(async () => {
      env.recipients.clearMessages();
      await env.send("alice@sender.test", "dave@example.org", "Unsigned mail");
      const [m] = await env.recipients.waitForMessages(1, WAIT_MS);
      return !m.text().includes("DKIM-Signature:");
    }, {
      message: "mail to go out unsigned after the keys were removed",
      intervalMs: 250,
      timeoutMs: WAIT_MS,
    });
  });
});
