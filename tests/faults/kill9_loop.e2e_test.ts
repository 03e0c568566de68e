/**
 * Issue 18, faults under load: the embedded server is killed with SIGKILL at random moments while
 * SMTP load flows, and started again on the same data each time (5 times in CI, 20 with
 * FASTMTA_HEAVY=1). Afterwards the ledger must balance: every message a client saw 250 for is
 * delivered (or failed with a DSN, or still queued); duplicates are counted and printed. The
 * seed of the kill moments is printed and taken from FASTMTA_FAULT_SEED.
 */
import { assert } from "../helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "../helpers/e2e_fixture.ts";
import { heavy, prng, seedFrom } from "../helpers/prng.ts";
import { startSmtpLoad } from "../helpers/smtp_load.ts";
import { waitUntil } from "../helpers/wait.ts";
import { balance, describeLedger, waitDrained } from "./accounting.ts";
import { faultZones } from "./zones.ts";

Deno.test("kill -9 at random moments under SMTP load: the ledger balances", async () => {
  const kills = heavy() ? 20 : 5;
  const seed = seedFrom("FASTMTA_FAULT_SEED");
  const random = prng(seed);
  console.log(`kill -9 loop: ${kills} kills, seed ${seed} (FASTMTA_FAULT_SEED=${seed})`);
  await using e2e = await startE2eFixture({ prefix: "fastmta-kill9-", zones: faultZones });
  const config = e2e.nodeConfig();
  const configPath = await e2e.writeConfig(config);
  let server = await e2e.start(config);
  const load = startSmtpLoad({
    servers: [server.smtpAddress],
    count: 1_000_000,
    connections: 4,
    to: `r@${E2E_DOMAIN}`,
    prefix: "k",
  });
  try {
    for (let kill = 0; kill < kills; kill++) {
      // A random moment: after a random number of further 250s, then a random extra delay.
      const target = load.acceptedCount + random.int(5, 60);
      await waitUntil(() => load.acceptedCount >= target, {
        timeoutMs: 60_000,
        message: `${target} accepted before kill ${kill + 1}`,
      });
      const pause = random.int(0, 200);
      await new Promise((resolve) => setTimeout(resolve, pause)); // the random moment itself
      await server.kill("SIGKILL");
      server = await e2e.start(config);
    }
    const last = load.acceptedCount + 20;
    await waitUntil(() => load.acceptedCount >= last, { timeoutMs: 60_000, message: "more load" });
    load.stop();
    const result = await load.result;
    await waitDrained(configPath);
    const ledger = balance(result.accepted, e2e.sink.messages, "k");
    console.log(describeLedger(`kill -9 × ${kills} (seed ${seed})`, ledger));
    assert(ledger.balanced, `seed ${seed}: ${describeLedger("unbalanced", ledger)}`);
    assert(ledger.accepted > kills * 5, `load flowed: ${ledger.accepted}`);
  } catch (error) {
    load.stop();
    console.error(`seed ${seed}`);
    e2e.dump();
    throw error;
  } finally {
    load.stop();
    await load.result.catch(() => {});
  }
});
