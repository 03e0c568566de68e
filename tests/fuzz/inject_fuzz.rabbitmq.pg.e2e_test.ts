/**
 * Issue 18, hostile input on the inject queue: seeded, reproducible mutated messages
 * (inject_mutations.ts: broken JSON, wrong types, huge fields, bad and CR/LF-laden addresses, no
 * body, odd AMQP properties) published to `<prefix>.inject` of a one-node cluster. Every message
 * is either accepted (the node's `fastmta_messages_accepted_total{channel="inject"}`) or
 * dead-lettered with a reason (`x-fastmta-error`), every one that must be refused is, no worker
 * restarts, and a normal message afterwards is delivered. 500 messages in CI, 5 000 with
 * FASTMTA_HEAVY=1; cases that once broke something are replayed first from
 * tests/fuzz/regressions/inject/*.json (`{"seed": N, "index": N, "note": "…"}`).
 */
import { Buffer } from "node:buffer";
import amqp from "amqplib";
import { assertEquals } from "../helpers/assert.ts";
import { E2E_DOMAIN } from "../helpers/e2e_fixture.ts";
import { heavy, seedFrom } from "../helpers/prng.ts";
import { TEST_API_TOKEN } from "../helpers/server_process.ts";
import { startCluster } from "../helpers/cluster_fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fuzzInject } from "./inject_mutations.ts";

const REGRESSIONS = new URL("./regressions/inject/", import.meta.url).pathname;

function regressionCases(): { seed: number; index: number }[] {
  const cases = [];
  // The folder holds a README, so a clean clone has it even with no case recorded yet.
  for (const entry of Deno.readDirSync(REGRESSIONS)) {
    if (entry.name.endsWith(".json")) {
      cases.push(JSON.parse(Deno.readTextFileSync(`${REGRESSIONS}${entry.name}`)));
    }
  }
  return cases;
}

/** Sum of a counter over the series whose labels match `labels` in a Prometheus text page. */
function counter(page: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of page.split("\n")) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) sum += Number(line.split(" ").at(-1));
    else if (line.startsWith(`${name} `)) sum += Number(line.split(" ")[1]);
  }
  return sum;
}

Deno.test("inject queue fuzz: each message accepted or dead-lettered with a reason, node up", async () => {
  const seed = seedFrom("FASTMTA_FUZZ_SEED");
  const count = heavy() ? 5_000 : 500;
  console.log(`inject fuzz: ${count} messages, seed ${seed} (FASTMTA_FUZZ_SEED=${seed})`);
  await using c = await startCluster({
    nodes: 1,
    // A small size limit: "huge" fields are over it without megabytes of broker traffic.
    tweak: (config) => {
      config.smtp = { ...config.smtp, max_message_size: 1_048_576 };
    },
  });
  const [server] = c.servers;
  const metricsPage = async () => {
    const response = await fetch(`${server.adminUrl}/metrics`, {
      headers: { authorization: `Bearer ${TEST_API_TOKEN}` },
    });
    return await response.text();
  };
  const conn = await amqp.connect(c.vhost.url);
  try {
    const ch = await conn.createConfirmChannel();
    const plan = [
      ...regressionCases().map((r) => ({ ...r, id: `reg-${r.seed}-${r.index}` })),
      ...Array.from({ length: count }, (_, index) => ({ seed, index, id: `fz-${index}` })),
    ];
    const mustRefuse = new Map<string, string>();
    for (const { seed, index, id } of plan) {
      const fuzz = fuzzInject(seed, index, `r@${E2E_DOMAIN}`);
      if (fuzz.mustRefuse) mustRefuse.set(id, fuzz.note);
      ch.sendToQueue(
        "fastmta.inject",
        Buffer.from(fuzz.body),
        {
          persistent: true,
          messageId: id,
          contentType: fuzz.contentType ?? "application/json",
          headers: fuzz.headers,
        },
      );
    }
    await ch.waitForConfirms();
    console.log(`inject fuzz: ${plan.length} published and confirmed`);

    const dead = new Map<string, string>();
    let accepted = 0;
    await waitUntil(async () => {
      for (;;) {
        const msg = await ch.get("fastmta.inject.dead", { noAck: true });
        if (!msg) break;
        dead.set(
          String(msg.properties.messageId),
          String(msg.properties.headers?.["x-fastmta-error"] ?? ""),
        );
      }
      accepted = counter(
        await metricsPage(),
        "fastmta_messages_accepted_total",
        'channel="inject"',
      );
      console.log(`inject fuzz: ${accepted} accepted, ${dead.size} dead-lettered so far`);
      return dead.size + accepted >= plan.length;
    }, {
      timeoutMs: 300_000,
      intervalMs: 2_000,
      message: "every inject message accepted or dead-lettered",
    });
    console.log(`inject fuzz: ${accepted} accepted, ${dead.size} dead-lettered of ${plan.length}`);
    assertEquals(dead.size + accepted, plan.length, "each message once");
    const noReason = [...dead].filter(([, reason]) => reason.trim() === "");
    assertEquals(noReason, [], "every dead-lettered message has a reason");
    const slipped = [...mustRefuse].filter(([id]) => !dead.has(id))
      .map(([id, note]) => `seed=${seed} ${id} [${note}]`);
    assertEquals(slipped, [], "every message that must be refused is dead-lettered");

    const page = await metricsPage();
    assertEquals(counter(page, "fastmta_worker_restarts_total"), 0, "no worker restarted");
    ch.sendToQueue(
      "fastmta.inject",
      Buffer.from(JSON.stringify({
        from: "app@origin.test",
        to: [`after@${E2E_DOMAIN}`],
        subject: "after the fuzz",
        text: "still flowing",
      })),
      { persistent: true, contentType: "application/json" },
    );
    await ch.waitForConfirms();
    await waitUntil(() => c.sink.messages.some((m) => m.rcptTo.includes(`after@${E2E_DOMAIN}`)), {
      timeoutMs: 120_000,
      message: "a normal message delivered after the fuzz",
    });
    const exited = await Promise.race([server.exited, Promise.resolve(null)]);
    assertEquals(exited, null, "the node is up");
    await ch.close();
  } catch (error) {
    c.dump();
    throw error;
  } finally {
    await conn.close();
  }
});
