/**
 * Reply search by code and enhanced status is indexed (issue 14): settle writes the last reply's
 * code and enhanced status beside its text (core/store/reply_status.ts, migration 0018); a search
 * for "451", "4.7.1" or "451 4.7.1" matches them and its plan reads their index, while other
 * text still finds a substring of the reply.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { NewMessage, UnitOutcome } from "../core/contracts/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { replyStatusOf, replyStatusQuery } from "../core/store/reply_status.ts";

Deno.test("reply status: parsed from a reply, and from a search text", () => {
  assertEquals(replyStatusOf(451, "4.7.1 greylisted"), { code: 451, status: "4.7.1" });
  assertEquals(replyStatusOf(550, "550 5.1.1 no such user"), { code: 550, status: "5.1.1" });
  assertEquals(replyStatusOf(421, "421-4.4.2 closing"), { code: 421, status: "4.4.2" });
  assertEquals(replyStatusOf(null, "connection refused"), { code: null, status: null });
  assertEquals(replyStatusOf(451, "try 4.7.1 later"), { code: 451, status: null });
  assertEquals(replyStatusQuery("451"), { code: 451, status: null });
  assertEquals(replyStatusQuery(" 4.7.1 "), { code: null, status: "4.7.1" });
  assertEquals(replyStatusQuery("451 4.7.1"), { code: 451, status: "4.7.1" });
  assertEquals(replyStatusQuery("greylisted"), null);
  assertEquals(replyStatusQuery("4512"), null);
});

function message(i: number): NewMessage {
  return {
    id: `m-${i}`,
    sender: "s@origin.test",
    recipients: [`r${i}@d${i}.test`],
    channel: "api",
    clientIp: null,
    receivedAt: Date.now(),
    body: new TextEncoder().encode("Subject: x\r\n\r\nbody\r\n"),
  };
}

Deno.test("reply search: code and enhanced status through their indexes", async () => {
  await using dir = tempDir();
  const config = parseConfig({ data_dir: dir.path });
  const store = await openStore(config, "deliver", { log: () => {} });
  try {
    await store.migrate();
    await store.insertMessages([0, 1, 2].map(message));
    const units = await store.leaseDue({
      owner: "t",
      token: "t-lease",
      now: Date.now(),
      leaseMs: 60_000,
      limit: 10,
    });
    const replies: [number, string][] = [
      [451, "4.7.1 greylisted"],
      [452, "452 4.2.2 mailbox full"],
      [451, "451 4.3.0 try later"],
    ];
    const outcomes: UnitOutcome[] = units.map((u) => {
      const [code, reply] = replies[Number(u.messageId.slice(2))];
      return {
        kind: "deferred",
        unitId: u.unitId,
        messageId: u.messageId,
        domain: u.domain,
        leaseToken: u.leaseToken,
        at: Date.now(),
        durationMs: 1,
        sourceIp: null,
        mxHost: null,
        remoteIp: null,
        tls: false,
        results: u.recipients.map((address) => ({
          address,
          outcome: "deferred" as const,
          code,
          reply,
        })),
        retryAt: Date.now() + 3_600_000,
        reason: "remote" as const,
      };
    });
    await store.settle(outcomes);
    const found = async (reply: string) =>
      (await store.searchUnits({ reply }, { limit: 10 })).map((u) => u.message_id).sort();
    assertEquals(await found("451"), ["m-0", "m-2"]);
    assertEquals(await found("4.7.1"), ["m-0"]);
    assertEquals(await found("451 4.3.0"), ["m-2"]);
    assertEquals(await found("452 4.7.1"), []);
    assertEquals(await found("mailbox full"), ["m-1"], "other text: a substring");
    const plan = (await store.explainSearch({ reply: "451" })).join("\n");
    assert(plan.includes("queue_reply_code_id"), plan);
    const statusPlan = (await store.explainSearch({ reply: "4.7.1" })).join("\n");
    assert(statusPlan.includes("queue_reply_status_id"), statusPlan);
  } finally {
    await store.close();
  }
});
