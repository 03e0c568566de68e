/**
 * Tests for the SMTP client helpers (tests/helpers/smtp_client.ts) and the server process
 * helpers (tests/helpers/server_process.ts), against real processes and clients.
 */

import assert from "node:assert/strict";
import { freePort, tempDir } from "./helpers/net.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startSmtpSink } from "./helpers/smtp_sink.ts";
import { parseQueueId, sendWithSmtplib, sendWithSwaks } from "./helpers/smtp_client.ts";
import {
  makeServerConfig,
  runCli,
  splitHostPort,
  startServer,
  withServer,
} from "./helpers/server_process.ts";

const FAKE_SERVER = new URL("./fixtures/fake_server.ts", import.meta.url).pathname;

// ---------------------------------------------------------------- clients

Deno.test("parseQueueId understands common reply shapes", () => {
  assert.equal(parseQueueId("250 2.0.0 Ok: queued as 4XyZ12"), "4XyZ12");
  assert.equal(parseQueueId("2.0.0 queued as ABC.DEF."), "ABC.DEF");
  assert.equal(parseQueueId("250 OK id=1abc"), undefined);
});

Deno.test("smtplib helper reports connection errors", async () => {
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${freePort()}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "x\r\n",
    timeoutSec: 5,
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /ConnectionRefused/);
});

// ---------------------------------------------------------------- server process

Deno.test("startServer runs a server process, sends mail through it and stops it", async () => {
  await using dir = tempDir();
  const smtpPort = freePort();
  const config = makeServerConfig({
    dataDir: `${dir.path}/data`,
    smtpPort,
    adminPort: freePort(),
    dnsPort: 53535,
    remotePort: 2525,
  });
  assert.deepEqual(config.smtp.listen, [`127.0.0.1:${smtpPort}`]);
  assert.ok("ip_addressess" in config);

  const server = await startServer({ config, entry: FAKE_SERVER, env: { FAKE_ENV: "1" } });
  try {
    assert.equal(server.smtpHost, "127.0.0.1");
    assert.equal(server.smtpPort, smtpPort);
    assert.equal(server.adminUrl, `http://${config.admin!.listen}`);
    // startServer writes text logs unless the config says otherwise (tests match log lines).
    assert.deepEqual(JSON.parse(await Deno.readTextFile(server.configPath)), {
      log: { format: "text" },
      ...config,
    });

    const a = await sendWithSwaks({
      server: server.smtpAddress,
      from: "a@x.test",
      to: ["b@y.test"],
      data: "Subject: via server\r\n\r\nx\r\n",
    });
    assert.equal(a.code, 0, a.stdout);
    assert.match(a.queueId ?? "", /^SINK\d+$/);
    const b = await sendWithSmtplib({
      server: server.smtpAddress,
      from: "a@x.test",
      to: ["b@y.test"],
      data: "Subject: via server\r\n\r\nx\r\n",
    });
    assert.equal(b.code, 0, b.stderr);
    assert.notEqual(b.queueId, a.queueId);
    await waitUntil(() => server.logs().includes("stderr works"));
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0, server.logs());
  }
  assert.match(server.logs(), /listening on 127\.0\.0\.1/);
  assert.match(server.logs(), /SIGTERM after 2 message/);
  await assert.rejects(Deno.stat(server.configPath), Deno.errors.NotFound);
});

Deno.test("startServer kill() and startup failure reporting", async () => {
  await using dir = tempDir();
  const base = makeServerConfig({
    dataDir: dir.path,
    smtpPort: freePort(),
    adminPort: freePort(),
    dnsPort: 1,
    remotePort: 1,
  });
  const status = await withServer({ config: base, entry: FAKE_SERVER }, async (server) => {
    const s = await server.kill();
    // A second stop after the exit is harmless.
    assert.deepEqual(await server.stop(), s);
    return s;
  });
  assert.equal(status.signal, "SIGKILL");

  // stop() escalates to SIGKILL when SIGTERM is ignored.
  const stubborn = await startServer({
    config: { ...base, fake_ignore_sigterm: true },
    entry: FAKE_SERVER,
  });
  const stopped = await stubborn.stop(300);
  assert.equal(stopped.signal, "SIGKILL");
  assert.match(stubborn.logs(), /ignoring SIGTERM/);

  await assert.rejects(
    startServer({ config: { ...base, fake_fail_startup: true }, entry: FAKE_SERVER }),
    /server exited with code 1[\s\S]*startup failure requested/,
  );
});

Deno.test("runCli returns exit code and output", async () => {
  await using dir = tempDir();
  const ok = await runCli(["queue", "--config", "x.json"], {
    entry: FAKE_SERVER,
    cwd: dir.path,
    env: { FAKE_ENV: "yes" },
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.success, true);
  assert.deepEqual(JSON.parse(ok.stdout), {
    args: ["queue", "--config", "x.json"],
    cwd: await Deno.realPath(dir.path),
    env: "yes",
  });
  assert.match(ok.stderr, /fake cli: stderr/);
  const bad = await runCli(["fail"], { entry: FAKE_SERVER });
  assert.equal(bad.code, 3);
  assert.equal(bad.success, false);
  assert.deepEqual(splitHostPort("[::1]:25"), { host: "::1", port: 25 });
});

Deno.test("smtplib helper can send bare LF untouched", async () => {
  await using sink = await startSmtpSink();
  const res = await sendWithSmtplib({
    server: `127.0.0.1:${sink.port}`,
    from: "a@x.test",
    to: ["b@y.test"],
    data: "Subject: lf\n\none\ntwo\r\n",
    fixLineEnds: false,
  });
  assert.equal(res.code, 0, res.stderr);
  const [m] = await sink.waitForMessages(1);
  assert.equal(m.text(), "Subject: lf\n\none\ntwo\r\n");
});
