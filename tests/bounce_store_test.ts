/**
 * The bounce bookkeeping on a real store (SQLite): DSNs are marked due in the settle
 * transaction, claimed atomically, never lost across a crash, and the suppression list.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { openStore, type SqlStore } from "../core/store/mod.ts";
import { newQueueId } from "../core/accept/mod.ts";
import { BounceProcessor } from "../core/bounce/processor.ts";
import { classifyOutcome } from "../core/bounce/classify.ts";
import { suppressionScreen } from "../core/bounce/suppression.ts";
import type { NewMessage, RecipientResult, UnitOutcome } from "../core/contracts/mod.ts";

async function setup(dir: string) {
  const config = parseConfig({ data_dir: dir, smtp: { hostname: "mx.fastmta.test" } });
  const store = await openStore(config, "admin");
  await store.migrate();
  return { config, store };
}

async function failedMessage(
  store: SqlStore,
  recipients: { address: string; code: number | null; reply: string }[],
  sender = "alice@sender.test",
): Promise<{ id: string; outcome: UnitOutcome }> {
  const id = newQueueId();
  await store.insertMessages([{
    id,
    sender,
    recipients: recipients.map((r) => r.address),
    channel: "smtp",
    clientIp: "127.0.0.1",
    receivedAt: Date.now(),
    body: new TextEncoder().encode("From: a@sender.test\r\nSubject: t\r\n\r\nhi\r\n"),
  }]);
  const [unit] = await store.leaseDue({
    owner: "test",
    token: crypto.randomUUID(),
    now: Date.now() + 1000,
    leaseMs: 60_000,
    limit: 1,
  });
  assertEquals(unit.messageId, id);
  const results: RecipientResult[] = recipients.map((r) => ({
    address: r.address,
    outcome: "failed",
    code: r.code,
    reply: r.reply,
  }));
  const outcome = classifyOutcome({
    unitId: unit.unitId,
    messageId: id,
    domain: unit.domain,
    leaseToken: unit.leaseToken,
    at: Date.now(),
    durationMs: 5,
    sourceIp: null,
    mxHost: "mx.example.org",
    remoteIp: "127.0.0.21",
    tls: false,
    results,
    kind: "final",
  });
  assertEquals(await store.settle([outcome]), 0);
  return { id, outcome };
}

function collector(fail = false) {
  const submitted: NewMessage[] = [];
  return {
    submitted,
    acceptor: {
      submit(message: NewMessage) {
        if (fail) return Promise.reject(new Error("disk full"));
        submitted.push(message);
        return Promise.resolve(message.id);
      },
    },
  };
}

const BOB = {
  address: "Bob@example.org",
  code: 550,
  reply: "550 5.1.1 <Bob@example.org>: Recipient address rejected: User unknown",
};
const CAROL = { address: "carol@example.org", code: null, reply: "domain example.org not found" };

Deno.test("settle marks DSNs due; concurrent claims are disjoint; release returns them", async () => {
  await using dir = tempDir();
  const { store } = await setup(dir.path);
  try {
    const { id, outcome } = await failedMessage(store, [BOB, CAROL]);
    assertEquals(outcome.results.map((r) => r.category), ["bad_mailbox", "bad_domain"]);
    const [a, b] = await Promise.all([
      store.claimDsns({ token: "claim:n:0:a", limit: 10 }),
      store.claimDsns({ token: "claim:n:1:b", limit: 10 }),
    ]);
    const ids = [...a, ...b].flatMap((w) => w.recipients.map((r) => r.id));
    assertEquals(ids.length, 2, "each recipient claimed once");
    assertEquals(new Set(ids).size, 2);
    const work = [...a, ...b][0];
    assertEquals(work.messageId, id);
    assertEquals(work.sender, "alice@sender.test");
    const bob = [...a, ...b].flatMap((w) => w.recipients).find((r) => r.address === BOB.address)!;
    assertEquals([bob.state, bob.code, bob.category, bob.mxHost], [
      "failed",
      550,
      "bad_mailbox",
      "mx.example.org",
    ]);
    assertEquals(await store.claimDsns({ token: "claim:n:2:c", limit: 10 }), []);
    assertEquals(await store.releaseDsnClaims("claim:n:0:"), a.flatMap((w) => w.recipients).length);
    await store.releaseDsnClaims("claim:n:1:");
    const again = await store.claimDsns({ token: "claim:n:3:d", messageIds: [id], limit: 10 });
    assertEquals(again.flatMap((w) => w.recipients).length, 2);
    await store.finishDsns(again.flatMap((w) => w.recipients.map((r) => r.id)), "sent");
    await store.releaseDsnClaims("claim:n:3:");
    assertEquals(await store.claimDsns({ token: "claim:n:4:e", limit: 10 }), []);
  } finally {
    await store.close();
  }
});

Deno.test("processor: one DSN per message, suppression for the bad mailbox only", async () => {
  await using dir = tempDir();
  const { config, store } = await setup(dir.path);
  try {
    const { id, outcome } = await failedMessage(store, [BOB, CAROL]);
    const { submitted, acceptor } = collector();
    const lines: string[] = [];
    const processor = new BounceProcessor({
      store,
      acceptor,
      config,
      claimPrefix: "claim:n:0:",
      log: (l) => lines.push(l),
    });
    processor.afterSettle([outcome]);
    await processor.idle();
    assertEquals(submitted.length, 1);
    const dsn = submitted[0];
    assertEquals([dsn.sender, dsn.recipients, dsn.channel], ["", ["alice@sender.test"], "bounce"]);
    const text = new TextDecoder().decode(dsn.body);
    assertMatch(
      text,
      /Final-Recipient: rfc822; Bob@example\.org\r\nAction: failed\r\nStatus: 5\.1\.1/,
    );
    assertMatch(
      text,
      /Final-Recipient: rfc822; carol@example\.org\r\nAction: failed\r\nStatus: 5\.1\.2/,
    );
    assertMatch(text, new RegExp(`X-Fastmta-Queue-ID: ${id}`));

    const active = await store.suppressions(["bob@EXAMPLE.org", "carol@example.org"], Date.now());
    assertEquals(active.map((s) => [s.address, s.category, s.code]), [
      ["bob@example.org", "bad_mailbox", 550],
    ]);
    assert((active[0].expiresAt ?? 0) > Date.now() + 29 * 86_400_000, "suppressed for 30 days");
    assertEquals((await store.listSuppressions(Date.now(), 10)).length, 1);

    // The screen splits the suppressed recipient off without touching the others.
    const screen = suppressionScreen(store, (l) => lines.push(l));
    const screened = await screen({
      v: 1,
      unitId: "u",
      messageId: "m2",
      domain: "example.org",
      sender: "alice@sender.test",
      attempts: 1,
      createdAt: Date.now(),
      leaseToken: "t",
      recipients: ["bob@example.org", "dave@example.org"],
    });
    assertEquals(screened.unit.recipients, ["dave@example.org"]);
    assertEquals(screened.results.map((r) => [r.address, r.outcome, r.category]), [
      ["bob@example.org", "suppressed", "suppressed"],
    ]);
    assertMatch(
      screened.results[0].reply,
      /^recipient suppressed until .* after a hard bounce: 550 5\.1\.1/,
    );
    assert(lines.some((l) => l.startsWith("bounce: m2: not sending to <bob@example.org>")));

    // Expired or removed: tried again.
    assert(await store.removeSuppression("BOB@example.org"));
    assertEquals(await store.suppressions(["bob@example.org"], Date.now()), []);
  } finally {
    await store.close();
  }
});

Deno.test("a DSN is not lost: a crash after settle, or a failed submit, is picked up later", async () => {
  await using dir = tempDir();
  const { config, store } = await setup(dir.path);
  try {
    // Settled, then the worker died before its follow-up ran: the DSN is pending in the store.
    const crashed = await failedMessage(store, [BOB]);
    // This one was claimed by a worker slot that then died mid-report.
    const claimed = await failedMessage(store, [CAROL]);
    await store.claimDsns({ token: "claim:n:0:dead", messageIds: [claimed.id], limit: 10 });

    const failing = collector(true);
    const lines: string[] = [];
    const broken = new BounceProcessor({
      store,
      acceptor: failing.acceptor,
      config,
      claimPrefix: "claim:n:1:",
      log: (l) => lines.push(l),
    });
    await broken.recover();
    assertEquals(failing.submitted.length, 0);
    assert(lines.some((l) => /cannot send the DSN for .*: disk full/.test(l)), lines.join("\n"));

    // The restarted slot 0 releases its own claim and sends both.
    const { submitted, acceptor } = collector();
    const restarted = new BounceProcessor({
      store,
      acceptor,
      config,
      claimPrefix: "claim:n:0:",
      log: (l) => lines.push(l),
    });
    await restarted.recover();
    assertEquals(submitted.length, 2);
    const about = submitted.map((m) => (m.meta as { dsn_for: string }).dsn_for).sort();
    assertEquals(about, [crashed.id, claimed.id].sort());
    // And never twice.
    restarted.sweep();
    await restarted.idle();
    assertEquals(submitted.length, 2);
  } finally {
    await store.close();
  }
});

Deno.test("no DSN about a null-sender message", async () => {
  await using dir = tempDir();
  const { config, store } = await setup(dir.path);
  try {
    const nul = await failedMessage(store, [BOB], "");
    const { submitted, acceptor } = collector();
    const lines: string[] = [];
    const processor = new BounceProcessor({
      store,
      acceptor,
      config,
      claimPrefix: "claim:n:0:",
      log: (l) => lines.push(l),
    });
    processor.afterSettle([nul.outcome]);
    await processor.idle();
    assertEquals(submitted.length, 0);
    assert(lines.includes(`bounce: ${nul.id}: no DSN for 1 recipients: null sender`));
  } finally {
    await store.close();
  }
});
