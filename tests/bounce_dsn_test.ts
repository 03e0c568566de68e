import { parseMail, statusBlocks } from "./helpers/mail.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import {
  buildDsn,
  dsnParamsFromMeta,
  headerSection,
  statusOf,
  wantsFailureNotice,
} from "../core/bounce/dsn.ts";
import { planDsn } from "../core/bounce/processor.ts";
import { decodeXtext, rfc5322Date } from "../core/mail/mod.ts";
import type { DsnWork } from "../core/store/mod.ts";

const ORIGINAL = new TextEncoder().encode(
  "Received: from client ([127.0.0.1])\r\n\tby mx.fastmta.test (fastmta) with ESMTP id Q1;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n" +
    "From: Alice <alice@sender.test>\r\nTo: bob@example.org\r\nSubject: Hello there\r\n" +
    "Message-ID: <orig-1@sender.test>\r\n\r\nThe body line one.\r\nThe body line two.\r\n",
);

function work(overrides: Partial<DsnWork> = {}): DsnWork {
  return {
    messageId: "Q1",
    sender: "alice@sender.test",
    channel: "smtp",
    createdAt: Date.UTC(2024, 0, 1),
    meta: null,
    recipients: [
      {
        id: 1,
        address: "bob@example.org",
        state: "failed",
        code: 550,
        reply: "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown",
        category: "bad_mailbox",
        updatedAt: Date.UTC(2024, 0, 1, 0, 5),
        mxHost: "mx.example.org",
        remoteIp: "127.0.0.21",
      },
      {
        id: 2,
        address: "carol@example.org",
        state: "failed",
        code: null,
        reply: "domain example.org does not accept mail (null MX)",
        category: "bad_domain",
        updatedAt: Date.UTC(2024, 0, 1, 0, 5),
        mxHost: null,
        remoteIp: null,
      },
    ],
    ...overrides,
  };
}

const OPTIONS = { enabled: true, reportingMta: "mx.fastmta.test", maxReturnSize: 1_000_000 };

Deno.test("buildDsn makes a multipart/report that mailparser reads", async () => {
  const plan = planDsn(work({ meta: { dsn: { envid: "ENV+2B1", rcpt: {} } } }), OPTIONS);
  assert(plan.dsn);
  const bytes = buildDsn({ ...plan.dsn, original: ORIGINAL, now: Date.UTC(2024, 0, 2) });
  const parsed = await parseMail(bytes);
  const contentType = parsed.headers.get("content-type") as {
    value: string;
    params: Record<string, string>;
  };
  assertEquals(contentType.value, "multipart/report");
  assertEquals(contentType.params["report-type"], "delivery-status");
  assertEquals(
    parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0].address : null,
    "alice@sender.test",
  );
  assertEquals(parsed.subject, "Undelivered Mail Returned to Sender");
  assertEquals(parsed.headers.get("auto-submitted"), "auto-replied");
  assertMatch(
    parsed.text ?? "",
    /<bob@example\.org>: host mx\.example\.org\[127\.0\.0\.21\] said: 550 5\.1\.1/,
  );
  assertMatch(parsed.text ?? "", /<carol@example\.org>: domain example\.org does not accept mail/);

  const status = parsed.attachments.find((a) => a.contentType === "message/delivery-status");
  assert(status, "a message/delivery-status part");
  const [perMessage, bob, carol] = statusBlocks(status.content.toString("utf8"));
  assertEquals(perMessage["reporting-mta"], "dns; mx.fastmta.test");
  assertEquals(perMessage["original-envelope-id"], "ENV+1");
  assertEquals(perMessage["arrival-date"], "Mon, 01 Jan 2024 00:00:00 +0000");
  assertEquals(bob["final-recipient"], "rfc822; bob@example.org");
  assertEquals(bob.action, "failed");
  assertEquals(bob.status, "5.1.1");
  assertEquals(bob["remote-mta"], "dns; mx.example.org");
  assertMatch(
    bob["diagnostic-code"],
    /^smtp; 550 5\.1\.1 <bob@example\.org>: Recipient address rejected: User unknown$/,
  );
  assertEquals(carol.status, "5.1.2");
  assertEquals(carol["remote-mta"], undefined);
  assertMatch(carol["diagnostic-code"], /^X-fastmta; domain example\.org does not accept mail/);

  const returned = parsed.attachments.find((a) => a.contentType === "message/rfc822");
  assert(returned, "the original message is returned");
  assertEquals(returned.content.toString("utf8"), new TextDecoder().decode(ORIGINAL));
});

Deno.test("RET=HDRS returns the header section only; too large does the same", async () => {
  for (
    const [meta, max] of [
      [{ dsn: { ret: "HDRS" } }, 1_000_000],
      [null, 100],
    ] as const
  ) {
    const plan = planDsn(work({ meta }), { ...OPTIONS, maxReturnSize: max });
    const parsed = await parseMail(buildDsn({ ...plan.dsn!, original: ORIGINAL }));
    const part = parsed.attachments.find((a) => a.contentType === "text/rfc822-headers");
    assert(part, `headers part for ${JSON.stringify(meta)}`);
    const text = part.content.toString("utf8");
    assertMatch(text, /Subject: Hello there/);
    assert(!text.includes("The body line"), "no body returned");
    assert(!parsed.attachments.some((a) => a.contentType === "message/rfc822"));
  }
});

Deno.test("ORCPT becomes Original-Recipient; NOTIFY decides who is reported", async () => {
  const meta = {
    dsn: {
      rcpt: {
        "Bob@Example.org": { notify: "FAILURE,DELAY", orcpt: "rfc822;bob+2Bold@example.org" },
        "carol@example.org": { notify: ["NEVER"] },
      },
    },
  };
  const plan = planDsn(work({ meta }), OPTIONS);
  assertEquals(plan.sendIds, [1]);
  assertEquals(plan.skipIds, [2]);
  const parsed = await parseMail(buildDsn({ ...plan.dsn!, original: ORIGINAL }));
  const status = parsed.attachments.find((a) => a.contentType === "message/delivery-status")!;
  const blocks = statusBlocks(status.content.toString("utf8"));
  assertEquals(blocks.length, 2);
  assertEquals(blocks[1]["original-recipient"], "rfc822; bob+old@example.org");
});

Deno.test("no DSN for the null sender, for a DSN, for NOTIFY=NEVER or SUCCESS only", () => {
  assertEquals(planDsn(work({ sender: "" }), OPTIONS).dsn, null);
  assertEquals(planDsn(work({ sender: "" }), OPTIONS).skipped, "null sender");
  assertEquals(planDsn(work({ channel: "bounce" }), OPTIONS).dsn, null);
  assertEquals(planDsn(work(), { ...OPTIONS, enabled: false }).dsn, null);
  const never = {
    dsn: {
      rcpt: { "bob@example.org": { notify: "NEVER" }, "carol@example.org": { notify: "SUCCESS" } },
    },
  };
  const plan = planDsn(work({ meta: never }), OPTIONS);
  assertEquals(plan.dsn, null);
  assertEquals(plan.skipIds, [1, 2]);
});

Deno.test("dsnParamsFromMeta tolerates absence and junk", () => {
  for (const meta of [null, undefined, {}, { dsn: 5 }, { dsn: [] }, { dsn: { rcpt: "x" } }]) {
    const p = dsnParamsFromMeta(meta as Record<string, unknown> | null);
    assertEquals([p.ret, p.envid, p.rcpt.size], [null, null, 0]);
    assert(wantsFailureNotice(p, "anyone@example.org"));
  }
  const p = dsnParamsFromMeta({
    dsn: { ret: "hdrs", envid: "a+3Db", rcpt: { "x@y.z": { notify: "failure" } } },
  });
  assertEquals([p.ret, p.envid], ["HDRS", "a=b"]);
  assert(wantsFailureNotice(p, "X@Y.Z"));
});

Deno.test("statusOf, decodeXtext, headerSection, rfc5322Date", () => {
  assertEquals(statusOf(550, "550 5.7.1 blocked", "spam_block"), "5.7.1");
  assertEquals(statusOf(554, "554 no way", "other"), "5.0.0");
  assertEquals(statusOf(451, "451 later (giving up: message too old)", "system"), "4.0.0");
  assertEquals(
    statusOf(null, "recipient suppressed until x: 550 5.1.1 gone", "suppressed"),
    "5.1.1",
  );
  assertEquals(statusOf(null, "connect: timed out", "timeout"), "4.4.2");
  assertEquals(decodeXtext("a+2Bb+3D"), "a+b=");
  assertEquals(
    new TextDecoder().decode(headerSection(new TextEncoder().encode("A: 1\nB: 2\n\nbody"))),
    "A: 1\nB: 2\n",
  );
  assertEquals(rfc5322Date(Date.UTC(2030, 0, 1, 2, 3, 4)), "Tue, 01 Jan 2030 02:03:04 +0000");
});
