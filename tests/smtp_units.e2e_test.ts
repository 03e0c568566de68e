/**
 * The SMTP channel's parts in-process: the greeting-delay patch (early talkers), listener
 * modes from config, password hashing and sealed secrets, the self-signed certificate, the
 * shared counters, and the `user` CLI against a real temp SQLite store.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "./helpers/assert.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import { runCli } from "./helpers/server_process.ts";
import { RawSmtp } from "./helpers/smtp_raw.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { Acceptor, relayPolicy } from "../core/accept/mod.ts";
import { EmbeddedQueue } from "../core/queue/embedded.ts";
import {
  hashPassword,
  loadSecretKey,
  open,
  seal,
  SmtpAuthenticator,
  verifyPassword,
} from "../core/auth/mod.ts";
import { startSmtpInbound } from "../core/inbound/smtp.ts";
import { makeSelfSignedCert } from "../core/inbound/self_signed.ts";
import { ConnectionGauge, createSharedLimits, RateCounter } from "../core/inbound/shared_limits.ts";

async function inProcessServer(
  dir: string,
  greetingDelay: string,
  smtp: Record<string, unknown> = {},
) {
  const port = freePort();
  const config = parseConfig({
    data_dir: dir,
    smtp: {
      listen: [`127.0.0.1:${port}`],
      hostname: "mx.unit.test",
      greeting_delay: greetingDelay,
      ...smtp,
    },
  });
  const store = await openStore(config, "accept");
  await store.migrate();
  const inbound = await startSmtpInbound(config, {
    acceptor: new Acceptor(new EmbeddedQueue(config, store)),
    policy: relayPolicy(config.smtp.relay_networks, []),
    authenticator: new SmtpAuthenticator(store, { key: null, cacheTtlMs: 0 }),
    tls: await makeSelfSignedCert("mx.unit.test"),
    limits: createSharedLimits(1),
    worker: 0,
    log: () => {},
  });
  return {
    port,
    async [Symbol.asyncDispose]() {
      await inbound.close();
      await store.close();
    },
  };
}

Deno.test("greeting delay 0: an early talker is served at once", async () => {
  await using dir = tempDir();
  await using server = await inProcessServer(dir.path, "0");
  const c = await RawSmtp.connect("127.0.0.1", server.port);
  c.write("EHLO early.test\r\n");
  assertEquals((await c.read()).code, 220);
  assertEquals((await c.read()).code, 250);
  assertEquals((await c.command("QUIT")).code, 221);
  await c.close();
});

Deno.test("greeting delay > 0: an early talker gets 421", async () => {
  await using dir = tempDir();
  // Long enough that the EHLO written right after connecting always arrives first.
  await using server = await inProcessServer(dir.path, "3s");
  const c = await RawSmtp.connect("127.0.0.1", server.port);
  c.write("EHLO early.test\r\n");
  const reply = await c.read();
  assertEquals(reply.code, 421);
  assertMatch(reply.text, /You talk too soon/);
  await c.waitClosed();
});

Deno.test("idle timeout: a silent client gets 421 and is closed", async () => {
  await using dir = tempDir();
  await using server = await inProcessServer(dir.path, "0", { idle_timeout: "300ms" });
  const c = await RawSmtp.connect("127.0.0.1", server.port);
  assertEquals((await c.read()).code, 220);
  const reply = await c.read(5_000);
  assertEquals(reply.code, 421);
  assertMatch(reply.text, /Timeout/i);
  await c.waitClosed();
});

Deno.test("allow_insecure_auth offers AUTH without TLS", async () => {
  await using dir = tempDir();
  await using server = await inProcessServer(dir.path, "0", {
    auth: { allow_insecure_auth: true, mechanisms: ["PLAIN"] },
  });
  const c = await RawSmtp.connect("127.0.0.1", server.port);
  assertEquals((await c.read()).code, 220);
  const ehlo = await c.command("EHLO client.test");
  assert(ehlo.lines.includes("AUTH PLAIN"), ehlo.text);
  const auth = await c.command("AUTH PLAIN " + btoa("\0nobody\0wrong"));
  assertEquals(auth.code, 535);
  await c.close();
});

Deno.test("listeners: explicit modes, or by port number from listen and the seed's ports", () => {
  const explicit = parseConfig({
    smtp: {
      listeners: [{ ip: "127.0.0.5", port: 2587, mode: "submission" }, {
        ip: "127.0.0.5",
        port: 465,
      }],
    },
  });
  assertEquals(explicit.smtp.listeners, [
    { host: "127.0.0.5", port: 2587, mode: "submission" },
    { host: "127.0.0.5", port: 465, mode: "smtps" },
  ]);
  const seed = parseConfig({
    ip_addressess: [{ ip: "127.0.0.9", hostname: "a.test", inbound: true }],
    ports: [25, 465, 587],
  });
  assertEquals(seed.smtp.listeners.map((l) => l.mode), ["smtp", "smtps", "submission"]);
  assertEquals(seed.smtp.tlsFiles.selfSigned, true);
  assert(parseConfig({}).smtp.workers >= 1);
  let error: Error | null = null;
  try {
    parseConfig({ smtp: { tls: { cert_file: "/x.pem" } } });
  } catch (e) {
    error = e as Error;
  }
  assertMatch(String(error?.message), /smtp\.tls: set both "cert_file" and "key_file"/);
});

Deno.test("passwords: PBKDF2 hash verifies, wrong or malformed does not", async () => {
  const hash = await hashPassword("pässword", 10_000);
  assertMatch(hash, /^\$pbkdf2-sha256\$i=10000\$/);
  assert(await verifyPassword("pässword", hash));
  assert(!(await verifyPassword("password", hash)));
  assert(!(await verifyPassword("pässword", "$md5$x")));
});

Deno.test("sealed CRAM-MD5 secrets: round trip, bound to the user, key file made once", async () => {
  await using dir = tempDir();
  const path = `${dir.path}/auth/secret.key`;
  const first = await loadSecretKey(path, { create: true });
  assert(first.created);
  assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  const again = await loadSecretKey(path, { create: true });
  assert(!again.created);
  const sealed = await seal(first.key, "s3cret", "user a");
  assertEquals(await open(again.key, sealed, "user a"), "s3cret");
  await assertRejects(() => open(again.key, sealed, "user b"));
});

Deno.test("self-signed certificate: openssl reads it, with the host name in CN and SAN", async () => {
  await using dir = tempDir();
  const pair = await makeSelfSignedCert("mx.cert.test", { ips: ["127.0.0.1"] });
  await Deno.writeTextFile(`${dir.path}/c.pem`, pair.cert);
  const out = await new Deno.Command("openssl", {
    args: ["x509", "-in", `${dir.path}/c.pem`, "-noout", "-subject", "-ext", "subjectAltName"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assertMatch(text, /CN ?= ?mx\.cert\.test/);
  assertMatch(text, /DNS:mx\.cert\.test, IP Address:127\.0\.0\.1/);
  const verify = await new Deno.Command("openssl", {
    args: ["verify", "-CAfile", `${dir.path}/c.pem`, `${dir.path}/c.pem`],
    stdout: "null",
    stderr: "null",
  }).output();
  assertEquals(verify.code, 0, "the signature must verify");
});

Deno.test("shared limits: connections across workers, sliding-window rates", () => {
  const memory = createSharedLimits(2, 1024);
  const a = new ConnectionGauge(memory, 0);
  const b = new ConnectionGauge(memory, 1);
  assert(a.acquire("ip", 2));
  assert(b.acquire("ip", 2));
  assert(!a.acquire("ip", 2));
  b.release("ip");
  assert(a.acquire("ip", 2));
  // A restarted worker 1 forgets its own (dead) connections, not worker 0's.
  new ConnectionGauge(memory, 1);
  assert(!a.acquire("ip", 2));
  assert(b.acquire("ip", 3));

  const rates = new RateCounter(memory);
  assertEquals(rates.hit("k", 60_000, 0), 1);
  assertEquals(rates.hit("k", 60_000, 59_999), 2);
  assertEquals(rates.count("k", 60_000, 59_999), 2);
  assertEquals(rates.count("other", 60_000, 59_999), 0);
  // Past the boundary the previous window still counts, fading over the next window.
  assertEquals(rates.count("k", 60_000, 60_000), 2);
  assertEquals(rates.count("k", 60_000, 90_000), 1);
  assertEquals(rates.hit("k", 60_000, 90_000), 2);
  assertEquals(rates.count("k", 60_000, 180_000), 0);
});

Deno.test("user CLI: add, list, limits, passwd, remove", async () => {
  await using dir = tempDir();
  const config = `${dir.path}/app.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ data_dir: dir.path, smtp: { auth: { password_iterations: 10_000 } } }),
  );
  const cli = (args: string[], stdin?: string) =>
    runCli(["user", ...args, "--config", config], { stdin });
  // Only serve and migrate apply migrations; user refuses a schema that is behind.
  assertEquals((await runCli(["migrate", "--config", config])).code, 0);
  assertEquals((await cli(["add", "carol", "--max-recipients", "5"], "pw-1\n")).code, 0);
  const dup = await cli(["add", "carol"], "pw\n");
  assertEquals(dup.code, 1);
  assertMatch(dup.stderr, /SMTP user "carol" already exists/);
  assertEquals((await cli(["add", "bad name"], "pw\n")).code, 2);
  assertEquals((await cli(["limits", "carol", "--max-messages-per-minute", "7"])).code, 0);
  const list = JSON.parse((await cli(["list", "--json"])).stdout);
  assertEquals(list.length, 1);
  assertEquals(list[0].username, "carol");
  assertEquals(list[0].maxRecipients, 5);
  assertEquals(list[0].maxMessagesPerMinute, 7);
  assertEquals(list[0].cramMd5, true);

  const store = await openStore(parseConfig({ data_dir: dir.path }), "admin");
  try {
    const before = (await store.getSmtpUser("carol"))!.passwordHash;
    assert(await verifyPassword("pw-1", before));
    assertEquals((await cli(["passwd", "carol", "--password", "pw-2"])).code, 0);
    assert(await verifyPassword("pw-2", (await store.getSmtpUser("carol"))!.passwordHash));
    assertEquals((await cli(["remove", "carol"])).code, 0);
    assertEquals(await store.getSmtpUser("carol"), null);
    assertEquals((await cli(["remove", "carol"])).code, 1);
  } finally {
    await store.close();
  }
});
