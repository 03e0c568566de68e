/**
 * Queue operations in distributed mode (two nodes, RabbitMQ, PostgreSQL): a pause added through
 * one node's CLI holds a message accepted by the other node before any lookup (the broker copy
 * parked in a delay queue, SQL naming the pause), and the message is delivered once the pause is
 * removed; "retry now" of a deferred message publishes its next copy due now.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { E2E_DOMAIN as DOMAIN } from "./helpers/e2e_fixture.ts";
import { runCli, sendWithSwaks } from "./helpers/server_process.ts";
import { waitUntil } from "./helpers/wait.ts";
import { startCluster } from "./helpers/cluster_fixture.ts";

const WAIT_MS = 60_000;

Deno.test("a pause holds units cluster-wide before dispatch; retry now on the broker", async () => {
  let accepting = false;
  await using c = await startCluster({
    nodes: 2,
    sinkReply: ({ command, arg }) =>
      command === "RCPT" && /<later@/i.test(arg) && !accepting
        ? "451 4.7.1 greylisted, try again later"
        : undefined,
    tweak: (config) => {
      config.delivery = { ...(config.delivery as object), retry_schedule: ["10m"] };
    },
  });
  const [a, b] = c.servers;
  const cli = async (server: typeof a, ...args: string[]) => {
    const out = await runCli([args[0], "--config", server.configPath, ...args.slice(1)]);
    assertEquals(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
    return out.stdout;
  };
  const units = async (id: string) =>
    JSON.parse(await cli(a, "queue", "list", "--id", id, "--json")).items as {
      state: string;
      attempts: number;
      last_reply: string | null;
    }[];
  const send = async (server: typeof a, to: string, subject: string) => {
    const r = await sendWithSwaks({
      server: server.smtpAddress,
      from: "app@origin.test",
      to: [to],
      data: `From: <app@origin.test>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nx\r\n`,
    });
    assertEquals(r.code, 0, r.stdout + r.stderr);
    return r.queueId!;
  };
  try {
    const pause = JSON.parse(await cli(a, "pause", "add", "--domain", DOMAIN));
    // Either node may take the unit from the broker: both must have read the pause.
    for (const node of [a, b]) {
      await waitUntil(() => node.logs().includes(`pause ${pause.id} (domain ${DOMAIN}) in force`), {
        message: "every node to read the pause",
        timeoutMs: WAIT_MS,
      });
    }
    const held = await send(b, `held@${DOMAIN}`, "held by a pause");
    const [unit] = await waitUntil(async () => {
      const list = await units(held);
      return list[0]?.state === "paused" ? list : null;
    }, { message: "the unit to be held", timeoutMs: WAIT_MS });
    assertEquals(unit.attempts, 0);
    assertMatch(unit.last_reply ?? "", new RegExp(`^held by pause ${pause.id} on node-[ab] `));
    assertEquals(c.sink.messages.length, 0);
    await cli(a, "pause", "remove", pause.id);
    const [delivered] = await c.sink.waitForMessages(1, WAIT_MS);
    assertEquals(delivered.rcptTo, [`held@${DOMAIN}`]);

    const later = await send(a, `later@${DOMAIN}`, "retry me");
    await waitUntil(async () => (await units(later))[0]?.state === "deferred", {
      message: "the unit to be deferred",
      timeoutMs: WAIT_MS,
    });
    accepting = true;
    assertEquals(JSON.parse(await cli(b, "queue", "retry", later)).units, 1);
    await c.sink.waitForMessages(2, WAIT_MS);
    assertEquals(c.sink.messages[1].rcptTo, [`later@${DOMAIN}`]);
  } catch (error) {
    c.dump();
    throw error;
  }
});
