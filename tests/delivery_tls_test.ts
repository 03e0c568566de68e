/**
 * TLS in-process: opportunistic STARTTLS to a self-signed sink (delivered, logged as TLS, not
 * verified), `verify` refused without a trusted CA and delivered with one, `required` against a
 * host without STARTTLS, plain fallback when STARTTLS is refused, and MTA-STS: an `enforce`
 * policy (fetched over HTTPS from a local policy host found through our own DNS) makes TLS with a
 * verified certificate mandatory and limits delivery to the policy's MX hosts.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startDnsServer } from "./helpers/dns_server.ts";
import { uniqueLoopbackIp } from "./helpers/net.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { generateSelfSignedCert, type PemKeyPair } from "./helpers/tls_cert.ts";
import { startDeliveryEngine } from "./helpers/delivery_engine.ts";
import { mxMatchesPolicy, parseStsPolicy, parseStsRecord } from "../core/routing/mta_sts.ts";

interface TlsSite extends AsyncDisposable {
  domain: string;
  ip: string;
  cert: PemKeyPair;
  dns: Awaited<ReturnType<typeof startDnsServer>>;
  sink: Awaited<ReturnType<typeof startSmtpSink>>;
  dir: string;
  /** Writes a CA file trusting `certs`; returns its path. */
  caFile(...certs: PemKeyPair[]): Promise<string>;
}

async function tlsSite(
  domain: string,
  options: { starttls?: boolean; extensions?: string[] } = {},
): Promise<TlsSite> {
  const ip = uniqueLoopbackIp();
  const mx = `mx.${domain}`;
  const cert = await generateSelfSignedCert({ commonName: mx, dnsNames: [mx] });
  const sink = await startSmtpSink({
    hostname: ip,
    starttls: options.starttls === false ? undefined : cert,
    extensions: options.extensions,
  });
  const dns = await startDnsServer({
    zones: { [domain]: { MX: [{ preference: 10, exchange: mx }] }, [mx]: { A: [ip] } },
  });
  const dir = await Deno.makeTempDir({ prefix: "fastmta-tls-" });
  return {
    domain,
    ip,
    cert,
    dns,
    sink,
    dir,
    async caFile(...certs) {
      const path = `${dir}/ca-${crypto.randomUUID()}.pem`;
      await Deno.writeTextFile(path, certs.map((c) => c.cert).join("\n"));
      return path;
    },
    async [Symbol.asyncDispose]() {
      await sink.close();
      await dns.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function engineConfig(site: TlsSite, delivery: Record<string, unknown> = {}) {
  return {
    queue: { poll_interval: "50ms" },
    dns: { servers: [site.dns.address] },
    delivery: {
      remote_port: site.sink.port,
      retry_schedule: ["1h"],
      connect_retry_schedule: ["1h"],
      ...delivery,
    },
  };
}

Deno.test("opportunistic STARTTLS to a self-signed host: delivered, logged as TLS", async () => {
  await using site = await tlsSite("opp.test");
  await using engine = await startDeliveryEngine(engineConfig(site));
  const id = await engine.send({ to: ["u@opp.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const [message] = await site.sink.waitForMessages(1);
  assert(message.tls, "the sink received the message over TLS");
  const [attempt] = await engine.attempts(id);
  assertEquals(attempt.tls, 1);
  assertEquals(attempt.tls_verified, 0);
  assertMatch(attempt.tls_version ?? "", /^TLSv1\.[23]$/);
});

Deno.test("verify: an untrusted certificate is refused; a trusted one is delivered", async () => {
  await using site = await tlsSite("verify.test");
  {
    await using engine = await startDeliveryEngine(
      engineConfig(site, { shaping: { "verify.test": { tls: "verify" } } }),
    );
    const id = await engine.send({ to: ["u@verify.test"] });
    await engine.waitForStates(id, ["deferred"]);
    const attempts = await engine.attempts(id);
    const final = attempts.find((a) => a.outcome === "deferred")!;
    assertEquals(final.reason, "tls");
    assertMatch(final.reply ?? "", /tls: STARTTLS with mx\.verify\.test: .*self.signed/i);
    assertEquals(site.sink.messages.length, 0, "nothing sent in plain text");
  }
  await using engine = await startDeliveryEngine(
    engineConfig(site, {
      shaping: { "verify.test": { tls: "verify" } },
      tls_ca_file: await site.caFile(site.cert),
    }),
  );
  const id = await engine.send({ to: ["v@verify.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const [attempt] = await engine.attempts(id);
  assertEquals([attempt.tls, attempt.tls_verified], [1, 1]);
});

Deno.test("required: a host without STARTTLS is not used", async () => {
  await using site = await tlsSite("req.test", { starttls: false });
  await using engine = await startDeliveryEngine(
    engineConfig(site, { shaping: { "*": { tls: "required" } } }),
  );
  const id = await engine.send({ to: ["u@req.test"] });
  await engine.waitForStates(id, ["deferred"]);
  const final = (await engine.attempts(id)).find((a) => a.outcome === "deferred")!;
  assertEquals(final.reason, "tls");
  assertMatch(final.reply ?? "", /does not offer STARTTLS/);
  assertEquals(site.sink.messages.length, 0);
});

Deno.test("opportunistic: STARTTLS offered but refused, the message goes in plain text", async () => {
  await using site = await tlsSite("refuse.test", {
    starttls: false,
    extensions: ["PIPELINING", "8BITMIME", "STARTTLS"],
  });
  await using engine = await startDeliveryEngine(engineConfig(site));
  const id = await engine.send({ to: ["u@refuse.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const [attempt] = await engine.attempts(id);
  assertEquals(attempt.tls, 0);
});

Deno.test("opportunistic: a failed TLS handshake falls back to plain text on a new connection", async () => {
  const ip = uniqueLoopbackIp();
  // Says yes to STARTTLS but then speaks no TLS: the handshake fails.
  await using sink = await startSmtpSink({
    hostname: ip,
    extensions: ["PIPELINING", "STARTTLS"],
    reply: ({ command }) => command === "STARTTLS" ? "220 2.0.0 Ready to start TLS" : undefined,
  });
  await using dns = await startDnsServer({
    zones: {
      "broken-tls.test": { MX: [{ preference: 10, exchange: "mx.broken-tls.test" }] },
      "mx.broken-tls.test": { A: [ip] },
    },
  });
  await using engine = await startDeliveryEngine({
    dns: { servers: [dns.address] },
    delivery: { remote_port: sink.port, command_timeout: "5s" },
  });
  const id = await engine.send({ to: ["u@broken-tls.test"] });
  await engine.waitForStates(id, ["delivered"]);
  const attempts = await engine.attempts(id);
  assertEquals(attempts.map((a) => [a.outcome, a.tls]), [["tried", 0], ["delivered", 0]]);
  assertMatch(attempts[0].reply ?? "", /^tls: STARTTLS with mx\.broken-tls\.test/);
  assertEquals(sink.connections, 2);
});

/** An MTA-STS policy host for `domain` on a loopback address, with its own certificate. */
async function stsHost(site: TlsSite, policy: string) {
  const ip = uniqueLoopbackIp();
  const name = `mta-sts.${site.domain}`;
  const cert = await generateSelfSignedCert({ commonName: name, dnsNames: [name] });
  let fetches = 0;
  const server = Deno.serve({
    hostname: ip,
    port: 0,
    cert: cert.cert,
    key: cert.key,
    onListen: () => {},
  }, (request) => {
    fetches++;
    if (new URL(request.url).pathname !== "/.well-known/mta-sts.txt") {
      return new Response("not found", { status: 404 });
    }
    return new Response(policy, { headers: { "content-type": "text/plain" } });
  });
  site.dns.setRecords(`_mta-sts.${site.domain}`, { TXT: ["v=STSv1; id=20250101T000000"] });
  site.dns.setRecords(name, { A: [ip] });
  return {
    cert,
    port: server.addr.port,
    get fetches() {
      return fetches;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("MTA-STS enforce: an MX certificate we cannot verify is refused", async () => {
  await using site = await tlsSite("sts.test");
  await using policyHost = await stsHost(
    site,
    "version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n",
  );
  await using engine = await startDeliveryEngine(engineConfig(site, {
    // The policy host is trusted, the MX host's self-signed certificate is not.
    tls_ca_file: await site.caFile(policyHost.cert),
    mta_sts: { port: policyHost.port },
  }));
  const id = await engine.send({ to: ["u@sts.test"] });
  await engine.waitForStates(id, ["deferred"]);
  const final = (await engine.attempts(id)).find((a) => a.outcome === "deferred")!;
  assertEquals(final.reason, "tls");
  assertMatch(final.reply ?? "", /self.signed/i);
  assertEquals(site.sink.messages.length, 0);
  assertEquals(policyHost.fetches, 1);
});

Deno.test("MTA-STS enforce: verified TLS to a matching MX is delivered; policy cached", async () => {
  await using site = await tlsSite("sts-ok.test");
  await using policyHost = await stsHost(
    site,
    "version: STSv1\r\nmode: enforce\r\nmx: *.sts-ok.test\r\nmax_age: 86400\r\n",
  );
  await using engine = await startDeliveryEngine(engineConfig(site, {
    tls_ca_file: await site.caFile(policyHost.cert, site.cert),
    mta_sts: { port: policyHost.port },
  }));
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push(await engine.send({ to: [`u${i}@sts-ok.test`] }));
  for (const id of ids) await engine.waitForStates(id, ["delivered"]);
  const [attempt] = await engine.attempts(ids[0]);
  assertEquals([attempt.tls, attempt.tls_verified], [1, 1]);
  assertEquals(policyHost.fetches, 1, "one fetch for all three");
});

Deno.test("MTA-STS enforce: MX hosts outside the policy are not used", async () => {
  await using site = await tlsSite("sts-mx.test");
  await using policyHost = await stsHost(
    site,
    "version: STSv1\nmode: enforce\nmx: mail.elsewhere.test\nmax_age: 86400\n",
  );
  await using engine = await startDeliveryEngine(engineConfig(site, {
    tls_ca_file: await site.caFile(policyHost.cert, site.cert),
    mta_sts: { port: policyHost.port },
  }));
  const id = await engine.send({ to: ["u@sts-mx.test"] });
  await engine.waitForStates(id, ["deferred"]);
  const [attempt] = await engine.attempts(id);
  assertEquals(attempt.reason, "tls");
  assertMatch(attempt.reply ?? "", /matches its MTA-STS policy/);
  assertEquals(site.sink.messages.length, 0);
});

Deno.test("MTA-STS testing mode does not block delivery", async () => {
  await using site = await tlsSite("sts-testing.test");
  await using policyHost = await stsHost(
    site,
    "version: STSv1\nmode: testing\nmx: mx.sts-testing.test\nmax_age: 86400\n",
  );
  await using engine = await startDeliveryEngine(engineConfig(site, {
    tls_ca_file: await site.caFile(policyHost.cert),
    mta_sts: { port: policyHost.port },
  }));
  const id = await engine.send({ to: ["u@sts-testing.test"] });
  await engine.waitForStates(id, ["delivered"]);
  assertEquals(policyHost.fetches, 1);
});

Deno.test("MTA-STS parsing: records, policies and MX patterns", () => {
  assertEquals(parseStsRecord("v=STSv1; id=abc123"), { id: "abc123" });
  assertEquals(parseStsRecord("v=spf1 -all"), null);
  assertEquals(
    parseStsPolicy("version: STSv1\nmode: enforce\nmx: a.test\nmx: *.b.test\nmax_age: 600", "x"),
    { id: "x", mode: "enforce", mx: ["a.test", "*.b.test"], maxAgeMs: 600_000 },
  );
  assertEquals(parseStsPolicy("version: STSv1\nmode: enforce\nmax_age: 600", "x"), null);
  assert(mxMatchesPolicy("mx1.b.test", ["*.b.test"]));
  assert(!mxMatchesPolicy("x.mx1.b.test", ["*.b.test"]));
  assert(!mxMatchesPolicy("b.test", ["*.b.test"]));
  assert(mxMatchesPolicy("A.TEST.", ["a.test"]));
});
