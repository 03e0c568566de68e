import { assertEquals } from "./helpers/assert.ts";
import {
  type BounceCategory,
  classifyOutcome,
  classifyReply,
  enhancedStatus,
} from "../core/bounce/classify.ts";

/** Real-world replies (as our SMTP client records them: code, then the joined text). */
const REMOTE: [string, BounceCategory][] = [
  // Gmail
  [
    "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. Learn more at https://support.google.com/mail/?p=NoSuchUser d9-20020a05600c3ac900b0040e3ba1a2e7si1234567wmq.12 - gsmtp",
    "bad_mailbox",
  ],
  [
    "550 5.2.1 The email account that you tried to reach is disabled. Learn more at https://support.google.com/mail/?p=DisabledUser a1si123 - gsmtp",
    "bad_mailbox",
  ],
  [
    "452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp x2si - gsmtp",
    "mailbox_full",
  ],
  [
    "552 5.2.2 The recipient's inbox is out of storage space and inbound mail cannot be delivered. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm - gsmtp",
    "mailbox_full",
  ],
  [
    "450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later time. - gsmtp",
    "rate_limit",
  ],
  [
    "550 5.7.1 [192.0.2.7] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp",
    "spam_block",
  ],
  [
    "421 4.7.0 [192.0.2.7] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp",
    "rate_limit",
  ],
  [
    "550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp",
    "auth",
  ],
  [
    "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. - gsmtp",
    "auth",
  ],
  [
    "421 4.7.28 Gmail has detected an unusual rate of mail originating from your SPF domain. - gsmtp",
    "rate_limit",
  ],
  ["552 5.3.4 Your message exceeded Google's message size limits. - gsmtp", "too_large"],
  [
    "550 5.7.1 The IP you're using to send mail is not authorized to send email directly to our servers. Please use the SMTP relay at your service provider instead. - gsmtp",
    "policy",
  ],
  ["421 4.3.0 Temporary System Problem.  Try again later (10). - gsmtp", "system"],
  // Outlook / Microsoft 365 / Hotmail
  [
    "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM5EUR03FT047.eop-EUR03.prod.protection.outlook.com]",
    "bad_mailbox",
  ],
  [
    "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    "bad_mailbox",
  ],
  [
    "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
    "bad_mailbox",
  ],
  [
    "550 5.7.1 Unfortunately, messages from [192.0.2.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
    "spam_block",
  ],
  [
    "451 4.7.650 The mail server [192.0.2.7] has been temporarily rate limited due to IP reputation.",
    "rate_limit",
  ],
  [
    "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
    "spam_block",
  ],
  ["550 5.7.606 Access denied, banned sending IP [192.0.2.7].", "spam_block"],
  [
    "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
    "mailbox_full",
  ],
  [
    "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
    "auth",
  ],
  [
    "421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing transmission channel",
    "rate_limit",
  ],
  // Yahoo / AOL
  [
    "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.bf1.yahoo.com",
    "bad_mailbox",
  ],
  [
    "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.ne1.yahoo.com",
    "bad_mailbox",
  ],
  ["552 1 Requested mail action aborted, mailbox not found", "bad_mailbox"],
  [
    "421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    "rate_limit",
  ],
  [
    "553 5.7.2 [TSS09] All messages from 192.0.2.7 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
    "spam_block",
  ],
  [
    "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
    "policy",
  ],
  [
    "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.",
    "auth",
  ],
  ["452 4.2.2 Mailbox is full, try again later", "mailbox_full"],
  // Postfix, Exim and friends
  [
    "550 5.1.1 <x@example.org>: Recipient address rejected: User unknown in local recipient table",
    "bad_mailbox",
  ],
  ["554 5.7.1 <x@example.org>: Relay access denied", "policy"],
  [
    "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.7",
    "spam_block",
  ],
  ["450 4.1.8 <x@example.test>: Sender address rejected: Domain not found", "policy"],
  ["552 5.3.4 Message size exceeds fixed limit", "too_large"],
  ["550 5.1.2 Host unknown", "bad_domain"],
  ["421 4.7.0 Too many connections from your IP, try again later", "rate_limit"],
  ["451 4.7.1 Greylisting in action, please come back later", "policy"],
  ["550 5.7.1 Message rejected as spam by Content Filtering.", "spam_block"],
  ["503 5.5.1 Error: need RCPT command", "protocol"],
  ["500 5.5.2 Error: command not recognized", "protocol"],
  ["530 5.7.0 Must issue a STARTTLS command first", "policy"],
  ["550 No Such User Here", "bad_mailbox"],
  ["550 Unrouteable address", "bad_mailbox"],
  ["554 5.6.0 Message contains invalid header", "content"],
  ["452 4.3.1 Insufficient system storage", "system"],
  ["554 5.4.4 Unable to route", "bad_domain"],
  // Only a code
  ["550 5.1.1", "bad_mailbox"],
  ["552 Requested mail action aborted", "mailbox_full"],
  ["550 5.7.1", "policy"],
  ["554 Transaction failed", "other"],
];

/** Our own reasons when no server answered (code null). */
const LOCAL: [string, BounceCategory][] = [
  ["domain example.invalid not found", "bad_domain"],
  ["domain example.org does not accept mail (null MX)", "bad_domain"],
  ["DNS lookup for example.org failed: timed out", "timeout"],
  ["no MX host of example.org has an address", "dns"],
  [
    "mx.example.org[192.0.2.1]: connect to 192.0.2.1:25: Connection refused (os error 111)",
    "connection",
  ],
  ["mx.example.org[192.0.2.1]: timed out waiting for reply from mx.example.org", "timeout"],
  ["mx.example.org[192.0.2.1]: connection closed by remote host", "connection"],
  ["DKIM signing failed for example.com: bad key", "dkim"],
  ["recipient suppressed until 2030-01-01: 550 5.1.1 no such user", "suppressed"],
  ["message body missing from the store", "other"],
];

Deno.test("classifyReply: real-world remote replies", () => {
  const wrong: string[] = [];
  for (const [line, expected] of REMOTE) {
    const code = Number(line.slice(0, 3));
    const got = classifyReply({ code, text: line });
    if (got !== expected) wrong.push(`${expected} ≠ ${got}: ${line}`);
  }
  assertEquals(wrong, []);
});

Deno.test("classifyReply: our own reasons without a code", () => {
  const wrong: string[] = [];
  for (const [text, expected] of LOCAL) {
    const got = classifyReply({ code: null, text });
    if (got !== expected) wrong.push(`${expected} ≠ ${got}: ${text}`);
  }
  assertEquals(wrong, []);
});

Deno.test("enhancedStatus finds the code whose class matches", () => {
  assertEquals(enhancedStatus(550, "550 5.1.1 <a@b>: no such user"), "5.1.1");
  assertEquals(enhancedStatus(451, "451 4.7.650 rate limited"), "4.7.650");
  // A version number or IP-like text of another class is not the status.
  assertEquals(enhancedStatus(550, "550 see 2.3.4 and 5.7.1 here"), "5.7.1");
  assertEquals(enhancedStatus(550, "550 mailbox unavailable"), null);
  assertEquals(enhancedStatus(null, "suppressed: 550 5.1.1 x"), "5.1.1");
});

Deno.test("classifyOutcome fills categories, keeps delivered and preset ones", () => {
  const outcome = classifyOutcome({
    unitId: "u",
    messageId: "m",
    domain: "example.org",
    leaseToken: "t",
    at: 0,
    durationMs: 1,
    sourceIp: null,
    mxHost: null,
    remoteIp: null,
    tls: false,
    kind: "final",
    results: [
      { address: "a@example.org", outcome: "delivered", code: 250, reply: "250 ok" },
      { address: "b@example.org", outcome: "failed", code: 550, reply: "550 5.1.1 unknown" },
      {
        address: "c@example.org",
        outcome: "suppressed",
        code: null,
        reply: "x",
        category: "suppressed",
      },
    ],
  });
  assertEquals(outcome.results.map((r) => r.category ?? null), [
    null,
    "bad_mailbox",
    "suppressed",
  ]);
});
