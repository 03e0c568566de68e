/**
 * Issue 18: the console and the APIs over HTTPS. A real server with `admin.tls.enabled` and no
 * certificate files makes a self-signed pair at first start; curl (a client we did not write)
 * and fetch (trusting that certificate) reach it over TLS, cookies carry `Secure`, and failed
 * logins from one address lock that address only — the right password is refused there.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { freePort, tempDir } from "./helpers/net.ts";
import { runCli, startServer, TEST_API_TOKEN } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const PASSWORD = "correct horse battery";

/** curl over TLS from `from`, trusting `ca`; the status line's code and the headers. */
async function curl(
  url: string,
  ca: string,
  args: string[],
  from = "127.0.0.1",
): Promise<{ status: number; headers: string; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--cacert", ca, "--interface", from, "-D", "-", ...args, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const split = text.indexOf("\r\n\r\n");
  const headers = text.slice(0, split);
  return { status: Number(headers.split(" ")[1]), headers, body: text.slice(split + 4) };
}

/** GET the form, POST it with `password` from `from`; the POST's status and headers. */
async function login(base: string, ca: string, password: string, from: string) {
  const jar = `${await Deno.makeTempFile()}`;
  try {
    const form = await curl(`${base}/login`, ca, ["-c", jar], from);
    const csrf = form.body.match(/name="_csrf" value="([^"]+)"/)![1];
    return await curl(`${base}/login`, ca, [
      "-b",
      jar,
      "--data-urlencode",
      `_csrf=${csrf}`,
      "--data-urlencode",
      "username=alice",
      "--data-urlencode",
      `password=${password}`,
    ], from);
  } finally {
    await Deno.remove(jar);
  }
}

Deno.test("admin over HTTPS with a generated certificate: Secure cookies, login throttle", async () => {
  await using dir = tempDir();
  const adminPort = freePort();
  const config = {
    data_dir: dir.path,
    smtp: { listen: [`127.0.0.1:${freePort()}`], hostname: "mx.fastmta.test" },
    admin: {
      listen: `127.0.0.1:${adminPort}`,
      api_tokens: [TEST_API_TOKEN],
      tls: { enabled: true },
      login: { max_failures: 3 },
    },
    dns: { servers: [`127.0.0.1:${freePort()}`] },
  };
  const configPath = `${dir.path}/app.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config));
  assertEquals((await runCli(["migrate", "--config", configPath])).code, 0);
  const added = await runCli(["admin", "add", "alice", "--config", configPath], {
    stdin: `${PASSWORD}\n`,
  });
  assertEquals(added.code, 0, added.stderr);

  await using server = await startServer({ config });
  const ca = `${dir.path}/tls/admin-self-signed.crt`;
  const base = `https://127.0.0.1:${adminPort}`;
  const upLine = new RegExp(`admin https://127\\.0\\.0\\.1:${adminPort}/`);
  await waitUntil(() => upLine.test(server.logs()), { message: "the node says it is up on https" });

  // fetch, trusting the generated certificate (it names 127.0.0.1).
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(ca)] });
  try {
    const health = await fetch(`${base}/healthz`, { client });
    assertEquals(health.status, 200);
    assertEquals(health.headers.get("cache-control"), "no-store");
    await health.body?.cancel();
    const api = await fetch(`${base}/api/v1/queue`, {
      client,
      headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    });
    assertEquals(api.status, 200);
    await api.body?.cancel();
  } finally {
    client.close();
  }
  // Plain HTTP on the TLS port gets nothing.
  const plain = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
    async (r) => (await r.body?.cancel(), r.status),
    () => 0,
  );
  assert(plain !== 200, "no plain-HTTP answer on the HTTPS listener");

  const ok = await login(base, ca, PASSWORD, "127.0.0.1");
  assertEquals(ok.status, 302, ok.headers);
  const session = ok.headers.split("\r\n").find((h) => /^set-cookie: fastmta_session=/i.test(h));
  assert(session, ok.headers);
  assertMatch(session, /;\s*Secure/i);
  assertMatch(session, /;\s*HttpOnly/i);
  assertMatch(ok.headers, /cache-control: no-store/i);

  for (let i = 0; i < 3; i++) {
    assertEquals((await login(base, ca, `wrong-${i}`, "127.0.0.31")).status, 401);
  }
  const locked = await login(base, ca, PASSWORD, "127.0.0.31");
  assertEquals(locked.status, 429, "the right password is refused while the address is locked");
  assertMatch(locked.headers, /retry-after: \d+/i);
  assertEquals((await login(base, ca, PASSWORD, "127.0.0.32")).status, 302, "another address");
  assertMatch(server.logs(), /login failed for "alice" from 127\.0\.0\.31/);
  assert(!server.logs().includes("wrong-0"), "no password in the log");
  assert(!server.logs().includes(PASSWORD), "no password in the log");
});
