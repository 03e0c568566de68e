/**
 * The bounce and complaint corpus (tests/fixtures/bounces/*.eml, each file's `X-Fixture`
 * header says which format it follows): every file is parsed, matched to the original message
 * and recipient, and classified as the table says. Also the VERP token: short enough for the
 * 64-octet local-part limit, case-insensitive, and refused when forged or replayed.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { BouncedMessage } from "../core/store/mod.ts";
import { parseReport } from "../core/bounce/report_parse.ts";
import { matchReport, verifyToken } from "../core/bounce/report_match.ts";
import { verdictOf } from "../core/bounce/report_verdict.ts";
import { type TokenKey, verpAddress } from "../core/bounce/tokens.ts";

const FIXTURES = new URL("./fixtures/bounces/", import.meta.url);
const KEY: TokenKey = { bytes: new Uint8Array(32).fill(7) };
const VERP = { prefix: "b", domain: "bounces.shop.example" };
const config = parseConfig({
  smtp: { hostname: "mta.shop.example" },
  bounce: { verp: { enabled: true, ...VERP }, domains: ["feedback.shop.example"] },
});
const NOW = Date.now();
const MESSAGES: Record<string, BouncedMessage> = {
  "0123456789BCDFGH": {
    id: "0123456789BCDFGH",
    sender: "news@shop.example",
    createdAt: NOW - 3_600_000,
    recipients: [
      { id: 1, address: "bob@example.org", state: "delivered" },
      { id: 2, address: "carol@example.org", state: "delivered" },
      { id: 3, address: "dave@example.org", state: "delivered" },
    ],
  },
  "0123456789BCDFGJ": {
    id: "0123456789BCDFGJ",
    sender: "news@shop.example",
    createdAt: NOW - 3_600_000,
    recipients: [{ id: 4, address: "erin@example.org", state: "delivered" }],
  },
  "0123456789BCDFGK": {
    id: "0123456789BCDFGK",
    sender: "news@shop.example",
    createdAt: NOW - 90 * 24 * 3_600_000,
    recipients: [{ id: 5, address: "old@example.org", state: "delivered" }],
  },
};
const store = { bouncedMessage: (id: string) => Promise.resolve(MESSAGES[id] ?? null) };
const verpFor = (recipient: string, id = "0123456789BCDFGH") =>
  verpAddress(KEY, VERP, id, recipient);

type Via = "verp" | "return_path" | "trace" | "message_id" | null;
/** [file, verdict, category, recipient, matched via, VERP recipient of the envelope]. */
const TABLE: [string, string, string | null, string | null, Via, string?][] = [
  ["rfc3464_postfix_user_unknown.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["rfc3464_postfix_mailbox_full.eml", "failed", "mailbox_full", "bob@example.org", "trace"],
  ["rfc3464_postfix_delayed.eml", "soft_bounce", "connection", "bob@example.org", "trace"],
  [
    "rfc3464_exim_no_such_user.eml",
    "hard_bounce",
    "bad_mailbox",
    "carol@example.org",
    "message_id",
  ],
  ["rfc3464_sendmail_user_unknown.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  [
    "rfc3464_exchange_recipient_not_found.eml",
    "hard_bounce",
    "bad_mailbox",
    "dave@example.org",
    "verp",
    "dave@example.org",
  ],
  ["rfc3464_exchange_quota.eml", "failed", "mailbox_full", "bob@example.org", "trace"],
  ["rfc3464_spam_block.eml", "failed", "spam_block", "bob@example.org", "trace"],
  ["rfc3464_bad_domain.eml", "hard_bounce", "bad_domain", "bob@example.org", "trace"],
  [
    "rfc3464_multi_recipient.eml",
    "soft_bounce",
    "mailbox_full",
    "carol@example.org",
    "verp",
    "carol@example.org",
  ],
  ["rfc3464_delivered_notice.eml", "notice", null, "bob@example.org", "trace"],
  ["rfc3464_relayed.eml", "notice", null, "bob@example.org", "trace"],
  ["rfc3464_rate_limited_temporary.eml", "soft_bounce", "rate_limit", "bob@example.org", "trace"],
  ["rfc3464_disabled_account.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  [
    "rfc3464_original_recipient_only.eml",
    "hard_bounce",
    "bad_mailbox",
    "bob@example.org",
    "trace",
  ],
  ["gmail_address_not_found.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["gmail_delayed.eml", "soft_bounce", "system", "bob@example.org", "trace"],
  ["gmail_spam_rejected.eml", "failed", "spam_block", "bob@example.org", "trace"],
  ["outlook_undeliverable.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["outlook_mailbox_full.eml", "failed", "mailbox_full", "bob@example.org", "trace"],
  ["yahoo_no_account.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["yahoo_deferred.eml", "soft_bounce", "rate_limit", "bob@example.org", "trace"],
  ["qmail_no_mailbox.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["exim_plain_user_unknown.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["postfix_plain_user_unknown.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["generic_failure_notice.eml", "hard_bounce", "bad_mailbox", "bob@example.org", "trace"],
  ["arf_abuse_return_path.eml", "complaint", "complaint", "carol@example.org", "return_path"],
  ["arf_redacted_trace.eml", "complaint", "complaint", "erin@example.org", "trace"],
  ["arf_fraud_message_id.eml", "complaint", "complaint", "dave@example.org", "message_id"],
  ["arf_headers_only.eml", "complaint", "complaint", "bob@example.org", "trace"],
  ["rfc3834_vacation.eml", "auto_reply", null, null, null],
  ["rfc3834_x_autoreply.eml", "auto_reply", null, null, null],
  ["rfc3834_precedence_auto_reply.eml", "auto_reply", null, null, null],
  ["human_reply.eml", "unknown", null, null, null],
];

async function fixture(name: string): Promise<Uint8Array> {
  const text = (await Deno.readTextFile(new URL(name, FIXTURES)))
    .replaceAll("{{VERP}}", verpFor("carol@example.org"))
    .replace(/\r?\n/g, "\r\n");
  return new TextEncoder().encode(text);
}

Deno.test("the corpus has at least 30 reports, each saying which format it follows", async () => {
  const names = [...Deno.readDirSync(FIXTURES)].map((e) => e.name).filter((n) =>
    n.endsWith(".eml")
  );
  assert(names.length >= 30, `${names.length} fixtures`);
  for (const name of names) {
    const first = (await Deno.readTextFile(new URL(name, FIXTURES))).split("\n")[0];
    assert(/^X-Fixture: .{10,}/.test(first), `${name}: first line says its format`);
  }
  const listed = new Set([...TABLE.map((row) => row[0]), "rfc3464_forged_token.eml"]);
  assertEquals(names.filter((n) => !listed.has(n)), [], "every fixture is in the table");
});

for (const [name, kind, category, recipient, via, verpRecipient] of TABLE) {
  Deno.test(`corpus: ${name} is ${kind}${recipient ? ` for ${recipient}` : ""}`, async () => {
    const parsed = await parseReport(await fixture(name));
    const envelope = verpRecipient
      ? [verpFor(verpRecipient)]
      : [name.startsWith("arf_") ? "fbl@feedback.shop.example" : "postmaster@bounces.shop.example"];
    const match = await matchReport(store, KEY, config, parsed, envelope, NOW);
    const matched = match.kind === "matched" ? match.matched : null;
    assertEquals(match.kind === "refused", false, JSON.stringify(match));
    const verdict = verdictOf(parsed, matched?.recipient?.address ?? null);
    assertEquals(
      {
        kind: verdict.kind,
        category: verdict.category,
        recipient: matched?.recipient?.address ?? null,
        via: matched?.via ?? null,
      },
      { kind, category, recipient, via },
      `${name}: ${JSON.stringify(parsed)}`,
    );
  });
}

Deno.test("corpus: a DSN to a VERP address with a forged token is refused", async () => {
  const parsed = await parseReport(await fixture("rfc3464_forged_token.eml"));
  const good = verpFor("bob@example.org");
  const forged = good.replace(
    /-([a-z2-7]{10})@/,
    (_m, mac: string) => `-${mac.startsWith("a") ? "b" : "a"}${mac.slice(1)}@`,
  );
  assert(forged !== good);
  const match = await matchReport(store, KEY, config, parsed, [forged], NOW);
  assertEquals(match, { kind: "refused", reason: "invalid bounce token" });
  // A token made for another message's recipient does not verify either.
  const other = verpFor("erin@example.org", "0123456789BCDFGJ").replace("BCDFGJ", "BCDFGH");
  assertEquals((await matchReport(store, KEY, config, parsed, [other], NOW)).kind, "refused");
});

Deno.test("VERP tokens: within the 64-octet local-part limit, case-insensitive, replays refused", async () => {
  const longest = verpAddress(
    KEY,
    { prefix: "bouncesx", domain: VERP.domain },
    "0123456789BCDFGH",
    `${"x".repeat(64)}@example.org`,
  );
  const local = longest.slice(0, longest.lastIndexOf("@"));
  assert(local.length <= 64, `${local} is ${local.length} octets`);
  assertEquals(local.length, 8 + 1 + 16 + 1 + 10);
  const token = verpFor("bob@example.org").split("+")[1].split("@")[0];
  const folded = await verifyToken(store, KEY, config, token.toLowerCase(), NOW);
  assertEquals("refused" in folded ? folded.refused : folded.recipient?.address, "bob@example.org");
  const old = verpFor("old@example.org", "0123456789BCDFGK").split("+")[1].split("@")[0];
  const replay = await verifyToken(store, KEY, config, old, NOW);
  assert("refused" in replay && /expired/.test(replay.refused), JSON.stringify(replay));
  const wrongKey = await verifyToken(store, { bytes: new Uint8Array(32) }, config, token, NOW);
  assert("refused" in wrongKey);
});

Deno.test("corpus: garbage and truncated reports parse as unknown, never throw", async () => {
  const random = crypto.getRandomValues(new Uint8Array(4096));
  const truncated = (await fixture("rfc3464_postfix_user_unknown.eml")).subarray(0, 700);
  for (const raw of [random, truncated, new Uint8Array()]) {
    const parsed = await parseReport(raw);
    assert(["unknown", "dsn", "auto_reply"].includes(parsed.kind), parsed.kind);
  }
});
