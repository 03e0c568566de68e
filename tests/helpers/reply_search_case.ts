/**
 * The reply search case every dialect runs: three units settled with different replies, found by
 * code, enhanced status, both, and by free text.
 */
import { assertEquals } from "./assert.ts";
import type { NewMessage, UnitOutcome } from "../../core/contracts/mod.ts";
import type { SqlStore } from "../../core/store/mod.ts";

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

/** Settles three units with different replies and searches them by reply. */
export async function replySearchCase(store: SqlStore): Promise<void> {
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
}
