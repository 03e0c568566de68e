/**
 * The suppression list as the engine sees it, with a running server: an entry added with the
 * CLI while the server runs holds for the next message (the recipient is "suppressed", the
 * sink never sees it, the others are delivered); an expired entry suppresses nothing; a scoped
 * entry holds only for mail from its domain; removing an entry lets mail go out again.
 */
import { assertEquals } from "./helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "./helpers/e2e_fixture.ts";
import { runCli } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";

const WAIT_MS = 60_000;

async function setup() {
  const e2e = await startE2eFixture({ prefix: "fastmta-suppress-" });
  const config = { ...e2e.nodeConfig(), queue: { poll_interval: "200ms" } };
  const configPath = await e2e.writeConfig(config);
  await e2e.start(config, { waitForAdmin: false });
  const cli = async (args: string[], stdin?: string) => {
    const result = await runCli([...args, "--config", configPath], { stdin });
    assertEquals(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return result.stdout.trim();
  };
  /** Queues a message; resolves with the recipient states once none is pending. */
  const send = async (from: string, to: string[]) => {
    const id = await cli(["send", "--from", from, ...to], "Subject: s\n\nbody\n");
    return await waitUntil(async () => {
      const status = JSON.parse(await cli(["queue", "--message", id, "--json"]));
      const states = Object.fromEntries(
        (status.recipients as { address: string; state: string }[]).map((
          r,
        ) => [r.address, r.state]),
      );
      return Object.values(states).every((s) => s === "delivered" || s === "suppressed")
        ? states
        : null;
    }, { timeoutMs: WAIT_MS, message: `message ${id} settled` });
  };
  return { e2e, cli, send };
}

const at = (local: string) => `${local}@${E2E_DOMAIN}`;

Deno.test("suppression: an entry added while the server runs holds for the next message", async () => {
  const { e2e, cli, send } = await setup();
  await using _ = e2e;
  // Before: both are delivered.
  assertEquals(await send("shop@origin.test", [at("kept"), at("blocked")]), {
    [at("kept")]: "delivered",
    [at("blocked")]: "delivered",
  });
  e2e.sink.clearMessages();

  await cli(["suppression", "add", at("blocked"), "--reason", "asked us to stop"]);
  assertEquals(await send("shop@origin.test", [at("kept"), at("blocked")]), {
    [at("kept")]: "delivered",
    [at("blocked")]: "suppressed",
  });
  assertEquals(e2e.sink.messages.map((m) => m.rcptTo), [[at("kept")]]);

  // Lifted: delivered again.
  e2e.sink.clearMessages();
  await cli(["suppression", "remove", at("blocked")]);
  assertEquals(await send("shop@origin.test", [at("blocked")]), { [at("blocked")]: "delivered" });
  assertEquals(e2e.sink.messages.map((m) => m.rcptTo), [[at("blocked")]]);
});

Deno.test("suppression: an expired entry suppresses nothing; a scoped one only its domain's mail", async () => {
  const { e2e, cli, send } = await setup();
  await using _ = e2e;
  await cli(["suppression", "add", at("old"), "--expires", "2020-01-01T00:00:00Z"]);
  await cli(["suppression", "add", at("scoped"), "--scope", "origin.test", "--expires", "30d"]);
  const listed = JSON.parse(await cli(["suppression", "list", "--json"]));
  assertEquals(listed.map((e: { address: string }) => e.address), [at("scoped")]);

  assertEquals(await send("shop@origin.test", [at("old")]), { [at("old")]: "delivered" });
  // Scope origin.test covers its subdomains as senders, and nothing else.
  assertEquals(await send("news@mail.origin.test", [at("scoped")]), {
    [at("scoped")]: "suppressed",
  });
  assertEquals(await send("shop@other.test", [at("scoped")]), { [at("scoped")]: "delivered" });
  assertEquals(e2e.sink.messages.map((m) => m.rcptTo).toSorted(), [[at("old")], [at("scoped")]]);
  assertEquals(
    e2e.sink.messages.find((m) => m.rcptTo[0] === at("scoped"))?.mailFrom,
    "shop@other.test",
  );
});
