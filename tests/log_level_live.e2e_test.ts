/**
 * `log.level` is live: a node started at `warn` writes no line for a delivery; after
 * `fastmta config set log.level info` (stored and picked up by the config poll, no restart) the
 * next delivery is logged with its queue id.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { parseQueueId, runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

Deno.test("log.level applies live: info lines appear after config set, without a restart", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-log-level-" });
  const config = e2e.nodeConfig();
  Object.assign(config, {
    log: { format: "json", level: "warn" },
    cluster: { config_poll: "200ms" },
  });
  const path = await e2e.writeConfig(config);
  const server = await e2e.start(config);
  const deliveredLine = (id: string) =>
    server.logs().split("\n").some((l) =>
      l.includes(`"queue_id":"${id}"`) && l.includes("delivered")
    );
  const send = async (subject: string) => {
    const sent = await sendWithSwaks({
      server: server.smtpAddress,
      from: "sender@origin.test",
      to: [`rcpt@${E2E_DOMAIN}`],
      data: `Subject: ${subject}\r\n\r\nHi.\r\n`,
    });
    const id = parseQueueId(sent.stdout);
    assert(id, sent.stdout);
    return id;
  };
  const settled = async (id: string) => {
    const r = await fetch(`${server.adminUrl}/api/v1/messages/${id}`, {
      headers: { authorization: `Bearer ${(config.admin?.api_tokens as string[])[0]}` },
    });
    const body = await r.json();
    return r.ok && body.recipients?.every((x: { state: string }) => x.state === "delivered");
  };
  try {
    const quiet = await send("at warn");
    await waitUntil(() => settled(quiet), { message: "the first message delivered" });
    assertEquals(deliveredLine(quiet), false, "an info line was written at level warn");

    const set = await runCli(["config", "set", "log.level", "info", "--config", path]);
    assertEquals(set.code, 0, set.stderr);
    // The applied-change line is itself info: it shows once the new level is in force.
    await waitUntil(() => /applied [^"]*log\.level/.test(server.logs()), {
      message: "the node applying log.level",
    });
    const loud = await send("at info");
    await waitUntil(() => deliveredLine(loud), { message: "a delivered line at level info" });
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
