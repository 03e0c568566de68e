/**
 * Issue 12 fuzz (docs/quarantine.md): a real server with the test-only fault hook
 * (core/fault_points.ts, `FASTMTA_TEST_FAULTS`) throwing seeded, reproducible exceptions from
 * inside per-unit handling — dispatch, delivery, settle, DSN building and (RabbitMQ) the broker
 * consumer. Every message no fault touched is delivered exactly once (counted at the sink);
 * every faulted one is delivered later or quarantined; nothing is left in flight or queued.
 * Reproduce a run with FUZZ_SEED=<seed> (printed on failure).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import {
  DEST,
  quarantineFixture,
  type QueueMode,
  subjectOf,
  testMessage,
} from "./helpers/quarantine_fixture.ts";
import { waitUntil } from "./helpers/wait.ts";
import type { MessageDetail } from "../core/queue/quarantine.ts";
import type { MessageSummary } from "../core/store/mod.ts";

const MESSAGES = 30;
/** Every fifth message also goes to a recipient the sink refuses: a DSN is built for it. */
const BOUNCING = (i: number) => i % 5 === 0;

async function fuzz(mode: QueueMode, seed: string) {
  await using fx = await quarantineFixture({
    mode,
    reply: (ctx) =>
      ctx.command === "RCPT" && ctx.arg.includes("bad@") ? "550 5.1.1 no such user" : undefined,
    tweak: (config) => {
      (config.delivery as Record<string, unknown>).workers = 2;
    },
  });
  const stages = mode === "rabbitmq"
    ? "dispatch+deliver+settle+dsn+consume"
    : "dispatch+deliver+settle+dsn";
  const messages = Array.from({ length: MESSAGES }, (_, i) =>
    testMessage(`fuzz-${i}`, {
      to: BOUNCING(i) ? [`rcpt@${DEST}`, `bad@${DEST}`] : [`rcpt@${DEST}`],
    }));
  await fx.queue(messages);
  const server = await fx.start({ FASTMTA_TEST_FAULTS: `seed=${seed},rate=0.2,stages=${stages}` });
  const details = async () => {
    const { body: list } = await fx.api<{ items: MessageSummary[] }>(
      "GET",
      "/api/v1/messages?limit=500",
    );
    return await Promise.all(
      list.items.map(async (m) =>
        (await fx.api<MessageDetail>("GET", `/api/v1/messages/${m.id}`)).body
      ),
    );
  };
  const dsnFor = (id: string) =>
    fx.sink.messages.filter((m) => m.mailFrom === "" && m.text().includes(id));
  try {
    const final = await waitUntil(async () => {
      const all = await details();
      const settled = all.every((d) => d.units.every((u) => u.state !== "queued"));
      const quarantinedBounce = all.some((d) =>
        d.channel === "bounce" && d.units.some((u) => u.state === "quarantined")
      );
      // A DSN is due for each bounced recipient (not for one whose unit is quarantined).
      const reported = messages.filter((_, i) => BOUNCING(i)).every((m) => {
        const d = all.find((x) => x.id === m.id);
        const bounced = d?.recipients.some((r) =>
          r.address.startsWith("bad@") && (r.state === "failed" || r.state === "suppressed")
        );
        return !bounced || dsnFor(m.id).length > 0 || (d?.dsn_quarantined.length ?? 0) > 0 ||
          quarantinedBounce;
      });
      return settled && reported ? all : null;
    }, { timeoutMs: 120_000, intervalMs: 250, message: "every unit delivered or quarantined" });

    const faulted = new Set<string>();
    // A unit id ("<message id>.<n>") names its message; the DSN stage names the message.
    for (const match of server.logs().matchAll(/injected fault \(\w+\) for ([A-Z0-9]+)/g)) {
      faulted.add(match[1]);
    }
    assert(faulted.size > 0, `seed ${seed} injected no fault`);
    const copies = (tag: string) =>
      fx.sink.messages.filter((m) => m.mailFrom !== "" && subjectOf(m.text()) === tag).length;
    let quarantined = 0;
    for (const [i, m] of messages.entries()) {
      const detail = final.find((d) => d.id === m.id)!;
      const held = detail.units.some((u) => u.state === "quarantined");
      if (held) quarantined++;
      if (!faulted.has(m.id)) {
        assertEquals(copies(`fuzz-${i}`), 1, `message ${i} (${m.id}) delivered exactly once`);
        assert(!held, `message ${i} (${m.id}) was never faulted but is quarantined`);
      } else {
        assert(held || copies(`fuzz-${i}`) >= 1, `faulted message ${i} delivered or quarantined`);
      }
    }
    const { body: counts } = await fx.api<Record<string, number>>("GET", "/api/v1/queue");
    assertEquals(counts.in_flight_units, 0, `nothing in flight: ${JSON.stringify(counts)}`);
    console.log(
      `seed ${seed} (${mode}): ${faulted.size} messages faulted, ${quarantined} quarantined, ` +
        `${fx.sink.messages.length} messages at the sink`,
    );
  } catch (error) {
    const open = (await details().catch(() => [])).filter((d) =>
      d.units.some((u) => u.state === "queued")
    );
    console.error(
      `--- seed ${seed}; open: ${
        JSON.stringify(open.map((d) => [d.id, d.channel, d.units, d.recipients]))
      }`,
    );
    console.error(`sink: ${fx.sink.messages.length}; server output ---\n${server.logs()}`);
    throw error;
  }
}

const SEED = Deno.env.get("FUZZ_SEED") ?? "12";

Deno.test({
  name:
    `unit isolation fuzz: random per-unit exceptions affect only their unit (embedded, seed ${SEED})`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => fuzz("embedded", SEED),
});

Deno.test({
  name:
    `unit isolation fuzz: random per-unit exceptions affect only their unit (RabbitMQ, seed ${SEED})`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => fuzz("rabbitmq", SEED),
});
