/**
 * A vmta pause holds what the pool would send from that vmta (issue 14): with two vmtas in the
 * pool and one paused, every message leaves from the other (the delivery workers skip the paused
 * source); with both paused a unit is held after routing, before any connection, its state
 * naming the pause; removing the pauses sends it.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { startE2eFixture } from "./helpers/e2e_fixture.ts";
import { TEST_API_TOKEN } from "./helpers/server_process.ts";
import { sendWithSwaks } from "./helpers/smtp_client.ts";
import { waitUntil } from "./helpers/wait.ts";

const VMTAS = [
  { ip: "127.0.0.10", hostname: "vmta1.test" },
  { ip: "127.0.0.11", hostname: "vmta2.test" },
];

Deno.test("vmta pause: the pool skips the paused vmta; all paused: held naming the pause", async () => {
  await using e2e = await startE2eFixture({ prefix: "fastmta-vmta-pause-" });
  const server = await e2e.start(e2e.nodeConfig({ outboundIps: VMTAS }));
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.adminUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_API_TOKEN}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const pause = async (ip: string) => {
    const added = await api("POST", "/pauses", { source_kind: "vmta", source: ip });
    assertEquals(added.status, 201);
    // The node read it (and handed it to its delivery workers in the same step).
    await waitUntil(() => e2e.logs().includes(`pause ${added.body.id} (vmta ${ip}) in force`), {
      timeoutMs: 15_000,
      message: `the node read pause ${added.body.id}`,
    });
    return added.body.id as string;
  };
  const send = async (n: number) => {
    const result = await sendWithSwaks({
      server: server.smtpAddress,
      from: "sender@origin.test",
      to: [`r${n}@dest.test`],
      data: `Subject: vmta pause ${n}\r\n\r\nbody\r\n`,
    });
    assertEquals(result.code, 0, result.stdout);
    return result.queueId!;
  };
  try {
    const first = await pause("127.0.0.10");
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push(await send(i));
    await e2e.sink.waitForMessages(4);
    for (const id of sent) {
      const detail = await api("GET", `/messages/${id}`);
      const sources = detail.body.attempts.map((a: { source_ip: string }) => a.source_ip);
      assertEquals(sources, ["127.0.0.11"], `message ${id} left from the vmta not paused`);
    }

    const second = await pause("127.0.0.11");
    const held = await send(9);
    let reply = "";
    await waitUntil(async () => {
      const found = await api("GET", `/queue/units?id=${held}&state=paused`);
      reply = found.body.items[0]?.last_reply ?? "";
      return reply !== "";
    }, { timeoutMs: 20_000, message: "the unit is held by the pauses" });
    assertMatch(reply, /^held by pause p-\w+ on node-a \(vmta 127\.0\.0\.1[01]\)/);
    assertMatch(reply, /every source of pool \S+ is paused/);
    const detail = await api("GET", `/messages/${held}`);
    assertEquals(detail.body.attempts, [], "no attempt: held before any connection");
    assertEquals(e2e.sink.messages.length, 4);

    assertEquals((await api("DELETE", `/pauses/${first}`)).status, 204);
    assertEquals((await api("DELETE", `/pauses/${second}`)).status, 204);
    await e2e.sink.waitForMessages(5);
  } catch (error) {
    e2e.dump();
    throw error;
  }
});
