/**
 * The server's log over a full run: JSON lines with levels, a line per delivery outcome with its
 * queue id, and none of the secrets the run used — the database password (in the connection
 * string), an admin bearer token, an API key, an SMTP AUTH password, a console password, and
 * wrong ones tried on purpose — anywhere in its output or the CLI's logs.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { havePostgresBinaries, startOwnPostgres } from "./helpers/own_postgres.ts";
import { parseQueueId, runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const SECRETS = {
  database: "db-pass-Zq81vXk2",
  bearer: "bearer-token-Hn47Lp0qWcT9x2",
  smtp: "smtp-pass-Rk52mQ9w",
  smtpWrong: "smtp-wrong-Ty39bN1s",
  admin: "admin-pass-Jf64sD8u",
  adminWrong: "admin-wrong-Pa20cX7e",
  apiKeyWrong: "fmk_wrongwrongwrongwrongwrongwrongwrongwrongw",
};

async function login(admin: string, password: string): Promise<number> {
  // The login form's token is bound to its pre-session cookie (routes/login/pre_session.ts).
  const page = await fetch(`${admin}/login`);
  const cookie = page.headers.getSetCookie().find((c) => c.startsWith("fastmta_login="))!
    .split(";")[0];
  const html = await page.text();
  const token = html.match(/name="_csrf" value="([^"]+)"/)![1];
  const response = await fetch(`${admin}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie },
    body: new URLSearchParams({ _csrf: token, username: "alice", password }),
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  name: "logs: JSON lines, outcomes with queue ids, no secret of a full run in any output",
  ignore: !havePostgresBinaries(),
  async fn() {
    await using pg = await startOwnPostgres();
    await using e2e = await startE2eFixture({ prefix: "fastmta-log-secrets-" });
    const config = e2e.nodeConfig();
    config.database = { driver: "postgres", connection: pg.connection(SECRETS.database) };
    Object.assign(config, { log: { format: "json", level: "debug" } });
    config.admin = { ...config.admin, api_tokens: [SECRETS.bearer] };
    const smtp = config.smtp as Record<string, unknown>;
    smtp.auth = { ...(smtp.auth as object ?? {}), allow_insecure_auth: true };
    const path = await e2e.writeConfig(config);

    const cliOutput: string[] = [];
    const cli = async (args: string[], stdin?: string) => {
      const result = await runCli([...args, "--config", path], { stdin });
      assertEquals(result.code, 0, result.stderr);
      cliOutput.push(result.stderr);
      return result.stdout;
    };
    await cli(["migrate"]);
    await cli(["user", "add", "mailer"], `${SECRETS.smtp}\n`);
    await cli(["admin", "add", "alice"], `${SECRETS.admin}\n`);
    const apiKey = (await cli(["apikey", "add", "shop"])).trim(); // its stdout is the result

    const server = await e2e.start(config);
    const admin = server.adminUrl!;
    try {
      const message = (subject: string) =>
        `From: <sender@origin.test>\r\nTo: <rcpt@${E2E_DOMAIN}>\r\nSubject: ${subject}\r\n\r\nHi.\r\n`;
      const auth = (password: string) => [
        "--auth",
        "PLAIN",
        "--auth-user",
        "mailer",
        "--auth-password",
        password,
      ];
      const sent = await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@origin.test",
        to: [`rcpt@${E2E_DOMAIN}`],
        data: message("by smtp"),
        extraArgs: auth(SECRETS.smtp),
      });
      const smtpId = parseQueueId(sent.stdout)!;
      assert(smtpId, sent.stdout);
      await sendWithSwaks({
        server: server.smtpAddress,
        from: "sender@origin.test",
        to: [`rcpt@${E2E_DOMAIN}`],
        data: message("wrong password"),
        extraArgs: auth(SECRETS.smtpWrong),
      }).catch(() => {}); // refused, as it should be

      const send = (key: string) =>
        fetch(`${admin}/api/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({
            from: "sender@origin.test",
            to: [`rcpt@${E2E_DOMAIN}`],
            subject: "by api",
            text: "Hi.",
          }),
        });
      const accepted = await send(apiKey);
      assertEquals(accepted.status, 202, await accepted.clone().text());
      const apiId = (await accepted.json()).id as string;
      assertEquals((await send(SECRETS.apiKeyWrong)).status, 401);
      const queue = await fetch(`${admin}/api/v1/queue`, {
        headers: { authorization: `Bearer ${SECRETS.bearer}` },
      });
      assertEquals(queue.status, 200);
      await queue.body?.cancel();
      assertEquals(await login(admin, SECRETS.admin), 302);
      assert((await login(admin, SECRETS.adminWrong)) !== 302, "a wrong password logs in");

      await e2e.sink.waitForMessages(2, 30_000);
      const outcome = (id: string) =>
        server.logs().split("\n").some((line) =>
          line.includes(`"queue_id":"${id}"`) && line.includes('"outcome":"delivered"')
        );
      await waitUntil(() => outcome(smtpId) && outcome(apiId), {
        message: "a delivered line with each queue id",
      });
      await server.stop();

      const lines = server.logs().split("\n").filter((l) => l.trim() !== "");
      const notJson = lines.filter((line) => {
        try {
          const parsed = JSON.parse(line);
          return typeof parsed.level !== "string" || typeof parsed.msg !== "string";
        } catch {
          return true;
        }
      });
      assertEquals(notJson, [], "lines that are not JSON log records");
      const everything = [server.logs(), ...cliOutput].join("\n");
      const leaked = Object.entries({ ...SECRETS, apiKey })
        .filter(([, secret]) => everything.includes(secret)).map(([name]) => name);
      assertEquals(leaked, [], "secrets found in the logs");
    } catch (error) {
      e2e.dump();
      throw error;
    }
  },
});
