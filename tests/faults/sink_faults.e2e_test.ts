/**
 * Issue 18, faults under load at the receiving end: while SMTP load flows, the sink (seeded,
 * reproducible: FASTMTA_FAULT_SEED) drops the connection after the data and before its reply,
 * answers 421 to MAIL or to the data, hangs past the delivery's command timeout, and refuses
 * some messages for good (554 5.6.0, content: a DSN, no suppression). Afterwards the ledger
 * balances: every 250'd message is delivered or failed with a DSN at the sink; duplicates (a
 * drop after the data is the ambiguous case SMTP cannot avoid) are counted and printed.
 */
import { assert } from "../helpers/assert.ts";
import { E2E_DOMAIN, startE2eFixture } from "../helpers/e2e_fixture.ts";
import { heavy, prng, seedFrom } from "../helpers/prng.ts";
import { runSmtpLoad } from "../helpers/smtp_load.ts";
import { SINK_DISCONNECT, type SinkCommandContext } from "../helpers/smtp_sink.ts";
import { balance, describeLedger, waitDrained } from "./accounting.ts";
import { faultZones } from "./zones.ts";

Deno.test("the sink drops, answers 421, hangs and refuses under load: the ledger balances", async () => {
  const seed = seedFrom("FASTMTA_FAULT_SEED");
  const random = prng(seed);
  const count = heavy() ? 2_000 : 200;
  const faults = { drop: 0, reply421: 0, hang: 0, refused: 0 };
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const refusedSubjects = new Set<string>();
  const reply = async (ctx: SinkCommandContext): Promise<string | undefined> => {
    if (ctx.session.mailFrom === "") return undefined; // DSNs pass untouched
    // Faults for the first 80 % of the transfers; the rest lets every retry through.
    if (ctx.messageIndex > count * 0.8) return undefined;
    if (ctx.command === "MAIL" && random.chance(0.05)) {
      faults.reply421++;
      return "421 4.3.2 Service shutting down";
    }
    if (ctx.command !== "DATA_END") return undefined;
    const subject = new TextDecoder().decode(ctx.data).match(/^Subject: (s\d+)/m)?.[1] ?? "";
    // The same messages are refused each time they come (a permanent answer is final anyway).
    if (refusedSubjects.has(subject) || random.chance(0.03)) {
      refusedSubjects.add(subject);
      faults.refused++;
      return "554 5.6.0 content rejected";
    }
    const roll = random.next();
    if (roll < 0.08) {
      faults.drop++;
      return SINK_DISCONNECT;
    }
    if (roll < 0.14) {
      faults.reply421++;
      return "421 4.4.2 Closing transmission channel";
    }
    if (roll < 0.17) {
      faults.hang++;
      await released; // past the command timeout; the client gave up long before
      return SINK_DISCONNECT;
    }
    return undefined;
  };
  await using e2e = await startE2eFixture({
    prefix: "fastmta-sinkfaults-",
    zones: faultZones,
    sinkReply: reply,
  });
  try {
    const config = e2e.nodeConfig();
    Object.assign(config.delivery as Record<string, unknown>, {
      command_timeout: "2s",
      retry_schedule: ["1s", "1s", "2s"],
    });
    const configPath = await e2e.writeConfig(config);
    const server = await e2e.start(config);
    const result = await runSmtpLoad({
      servers: [server.smtpAddress],
      count,
      connections: 4,
      to: `r@${E2E_DOMAIN}`,
      prefix: "s",
    });
    const counts = await waitDrained(configPath, 180_000);
    const ledger = balance(result.accepted, e2e.sink.messages, "s");
    console.log(`seed ${seed}; faults ${JSON.stringify(faults)}; store ${JSON.stringify(counts)}`);
    console.log(describeLedger(`sink faults × ${count}`, ledger));
    assert(ledger.balanced, `seed ${seed}: ${describeLedger("unbalanced", ledger)}`);
    assert(faults.drop + faults.reply421 + faults.hang > 0, "faults happened");
    assert(ledger.failedWithDsn === counts.failed, `every failure has its DSN: ${counts.failed}`);
  } catch (error) {
    console.error(`seed ${seed}`);
    e2e.dump();
    throw error;
  } finally {
    release();
  }
});
