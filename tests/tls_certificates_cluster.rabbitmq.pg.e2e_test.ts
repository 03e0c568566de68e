/**
 * A TLS certificate uploaded in node A's console is served by node B (issue 15), two nodes over
 * RabbitMQ + PostgreSQL: an admin logs in to A's console over HTTP and uploads a pair on
 * /config/tls (multipart, CSRF); a listener pinned to node B names it, and a real STARTTLS
 * client (openssl s_client) connecting to B gets that certificate. A replacement uploaded on A
 * ("Replace" ticked) is served by B on a later connection, without a restart; the key is in
 * neither node's log.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startCluster } from "./helpers/cluster_fixture.ts";
import { freePort, waitForPort } from "./helpers/net.ts";
import { runCli, type ServerProcess } from "./helpers/server_process.ts";
import { generateSelfSignedCert, pemBody, servedCertificate } from "./helpers/tls_cert.ts";
import { waitUntil } from "./helpers/wait.ts";

const PASSWORD = "cluster-password-123";

/** Logs `user` in to `server`'s console through the login form: its cookie and CSRF token. */
async function consoleSession(server: ServerProcess, user: string) {
  const form = await fetch(`${server.adminUrl}/login`);
  const preCookie = form.headers.getSetCookie().find((c) => c.startsWith("fastmta_login="))!
    .split(";")[0];
  const loginCsrf = (await form.text()).match(/name="_csrf" value="([^"]+)"/)![1];
  const login = await fetch(`${server.adminUrl}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: preCookie },
    body: new URLSearchParams({ _csrf: loginCsrf, username: user, password: PASSWORD }),
  });
  await login.body?.cancel();
  assertEquals(login.status, 302, "logged in");
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith("fastmta_session="))!
    .split(";")[0];
  const page = await fetch(`${server.adminUrl}/config/tls`, { headers: { cookie } });
  const csrf = (await page.text()).match(/name="csrf-token" content="([^"]+)"/)![1];
  return { cookie, csrf };
}

Deno.test({
  name: "tls certificates, two nodes: uploaded in node A's console, served by node B's listener",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await startCluster();
    const [a, b] = c.servers;
    const path = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(path, JSON.stringify(c.configs[0]));
      const add = await runCli(["admin", "add", "olga", "--config", path], {
        stdin: `${PASSWORD}\n`,
      });
      assertEquals(add.code, 0, add.stdout + add.stderr);
      const session = await consoleSession(a, "olga");
      const upload = async (pair: { cert: string; key: string }, replace: boolean) => {
        const body = new FormData();
        body.set("_csrf", session.csrf);
        body.set("name", "mx");
        body.set("certificate_file", new File([pair.cert], "chain.pem"));
        body.set("private_key", pair.key);
        if (replace) body.set("replace", "yes");
        const response = await fetch(`${a.adminUrl}/config/tls`, {
          method: "POST",
          headers: { cookie: session.cookie },
          body,
          redirect: "manual",
        });
        const html = await response.text();
        assertEquals(response.status, 302, html);
      };

      const first = await generateSelfSignedCert({ commonName: "first.example.test" });
      const second = await generateSelfSignedCert({ commonName: "second.example.test" });
      await upload(first, false);

      // A listener on node B only, added through node A, names the uploaded certificate.
      const port = freePort();
      const listener = await runCli([
        "listener",
        "add",
        "ip=127.0.0.1",
        `port=${port}`,
        "node=node-b",
        "tls_certificate=mx",
        "--config",
        path,
      ]);
      assertEquals(listener.code, 0, listener.stderr);
      await waitForPort("127.0.0.1", port, 15_000);
      await waitUntil(async () => (await servedCertificate(port)) === pemBody(first.cert), {
        timeoutMs: 15_000,
        message: "node B serves the certificate uploaded on node A",
      });

      await upload(second, true);
      await waitUntil(async () => (await servedCertificate(port)) === pemBody(second.cert), {
        timeoutMs: 15_000,
        message: "node B serves the replacement without a restart",
      });

      for (const pair of [first, second]) {
        const keyLine = pair.key.split("\n")[1];
        for (const server of [a, b]) {
          assert(!server.logs().includes(keyLine), "the key is not logged");
        }
      }
    } catch (error) {
      c.dump();
      throw error;
    } finally {
      await Deno.remove(path).catch(() => {});
    }
  },
});
