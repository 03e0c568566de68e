/**
 * Issue 18, SIGTERM under load: the server stops taking mail, finishes (or hands back) the
 * deliveries in flight, exits with code 0, and the next start resumes; the ledger balances.
 * With a sink that holds a delivery past `shutdown_timeout` (when this build has that key) the process still exits, and the next start delivers the
 * handed-back message.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "../helpers/e2e_fixture.ts";
import { repoRoot } from "../helpers/server_process.ts";
import { startSmtpLoad } from "../helpers/smtp_load.ts";
import type { SinkCommandContext } from "../helpers/smtp_sink.ts";
import { waitUntil } from "../helpers/wait.ts";
import { balance, describeLedger, waitDrained } from "./accounting.ts";
import { faultZones } from "./zones.ts";

const HAS_SHUTDOWN_TIMEOUT = Deno.readTextFileSync(`${repoRoot()}/core/config/schema.ts`)
  .includes("shutdown_timeout:");

Deno.test("SIGTERM under load: stops accepting, exits 0, the next start resumes; the ledger balances", async () => {
  // Every delivery takes a moment at the sink, so that some are in flight at the signal.
  const slow = (ctx: SinkCommandContext) =>
    ctx.command === "DATA_END"
      ? new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)) // slow
      : undefined;
  await using e2e = await startE2eFixture({
    prefix: "fastmta-sigterm-",
    zones: faultZones,
    sinkReply: slow,
  });
  const config = e2e.nodeConfig();
  if (HAS_SHUTDOWN_TIMEOUT) config.shutdown_timeout = "10s";
  const configPath = await e2e.writeConfig(config);
  let server = await e2e.start(config);
  const load = startSmtpLoad({
    servers: [server.smtpAddress],
    count: 1_000_000,
    connections: 4,
    to: `r@${E2E_DOMAIN}`,
    prefix: "t",
  });
  try {
    for (let round = 0; round < 2; round++) {
      const target = load.acceptedCount + 40;
      await waitUntil(() => load.acceptedCount >= target, {
        timeoutMs: 60_000,
        message: `${target} accepted`,
      });
      const stopping = server;
      // stop(): SIGTERM, then SIGKILL only if it is still there after 60 s.
      const status = await stopping.stop(60_000);
      assertEquals(status.signal, null, `exited by itself, not killed:\n${stopping.logs()}`);
      assertEquals(status.code, 0, stopping.logs());
      assert(/SIGTERM: shutting down/.test(stopping.logs()), stopping.logs());
      server = await e2e.start(config);
    }
    const last = load.acceptedCount + 20;
    await waitUntil(() => load.acceptedCount >= last, { timeoutMs: 60_000, message: "more load" });
    load.stop();
    const result = await load.result;
    await waitDrained(configPath);
    const ledger = balance(result.accepted, e2e.sink.messages, "t");
    console.log(describeLedger("SIGTERM × 2 under load", ledger));
    assert(ledger.balanced, describeLedger("unbalanced", ledger));
  } catch (error) {
    e2e.dump();
    throw error;
  } finally {
    load.stop();
    await load.result.catch(() => {});
  }
});

Deno.test({
  name: "SIGTERM with a delivery hung past shutdown_timeout: exits anyway, the next start sends it",
  ignore: !HAS_SHUTDOWN_TIMEOUT, // a build without the key cannot bound the stop
  fn: async () => {
    let hold = true;
    const { promise: held, resolve: heldNow } = Promise.withResolvers<void>();
    const { promise: never, resolve: unblock } = Promise.withResolvers<string>();
    await using e2e = await startE2eFixture({
      prefix: "fastmta-sigterm-hang-",
      zones: faultZones,
      sinkReply: (ctx) => {
        if (ctx.command !== "DATA_END" || !hold) return undefined;
        heldNow();
        return never; // answers only when the test ends
      },
    });
    try {
      const config = e2e.nodeConfig();
      config.shutdown_timeout = "2s";
      const configPath = await e2e.writeConfig(config);
      const server = await e2e.start(config);
      const load = startSmtpLoad({
        servers: [server.smtpAddress],
        count: 1,
        connections: 1,
        to: `r@${E2E_DOMAIN}`,
        prefix: "h",
      });
      const result = await load.result;
      await held;
      const status = await server.stop(60_000);
      assertEquals(status.signal, null, server.logs());
      hold = false;
      await e2e.start(config);
      await waitDrained(configPath);
      const ledger = balance(result.accepted, e2e.sink.messages, "h");
      console.log(describeLedger("SIGTERM past shutdown_timeout", ledger));
      assert(ledger.balanced && ledger.delivered === 1, describeLedger("unbalanced", ledger));
    } catch (error) {
      e2e.dump();
      throw error;
    } finally {
      unblock("421 4.3.2 closing");
    }
  },
});
