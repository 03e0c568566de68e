/**
 * Parsing of mail received for bounce/feedback domains (mailparser does the MIME):
 * - DSNs: multipart/report; report-type=delivery-status (RFC 3464, RFC 3462/6522), one entry
 *   per recipient block (Final-Recipient, Action, Status, Diagnostic-Code);
 * - complaints: multipart/report; report-type=feedback-report (ARF, RFC 5965);
 * - the plain-text bounces of large providers and older MTAs (Gmail, Outlook/Exchange, Yahoo,
 *   qmail, Exim, Postfix without DSN): recognised by their wording, diagnostics read from text;
 * - auto-replies (RFC 3834 `Auto-Submitted: auto-replied`, vacation headers): recognised and
 *   ignored.
 * What identifies the original (its returned headers: Return-Path with the VERP token, our
 * `Received: … (fastmta) … id <queue id>` trace, Message-ID) is collected for matching.
 *
 * Pure apart from mailparser: no config, no I/O.
 */
import { simpleParser } from "mailparser";
import { Buffer } from "node:buffer";
import {
  addressesIn,
  bareMessageId,
  field,
  type FieldBlock,
  headerSection,
  readFieldBlocks,
  readFields,
  typedAddress,
} from "./report_fields.ts";

/** What a received message turned out to be. */
export type ReportKind = "dsn" | "complaint" | "auto_reply" | "unknown";

/** One recipient a report speaks of. */
export interface ReportRecipient {
  /** The address, when the report names it. */
  address: string | null;
  /** RFC 3464 action (plain-text bounces: "failed" or "delayed"). */
  action: "failed" | "delayed" | "delivered" | "relayed" | "expanded";
  /** Enhanced status code, e.g. "5.1.1". */
  status: string | null;
  /** The remote server's reply or the reporter's reason. */
  diagnostic: string | null;
  /** The basic SMTP code in the diagnostic, if any. */
  code: number | null;
}

/** What identifies the original message. */
export interface OriginalRefs {
  /** The Return-Path of the returned headers (carries the VERP token of complaints). */
  returnPath: string | null;
  /** Queue ids from our own `Received: … (fastmta) … id <id>` trace headers. */
  queueIds: string[];
  /** The original's Message-ID, without angle brackets. */
  messageId: string | null;
  /** Recipient addresses the original's headers name (To, Cc; ARF Original-Rcpt-To). */
  addresses: string[];
}

/** A parsed report. */
export interface ParsedReport {
  kind: ReportKind;
  /** Which format it followed: rfc3464, arf, gmail, outlook, yahoo, qmail, exim, postfix, … */
  format: string;
  recipients: ReportRecipient[];
  /** ARF Feedback-Type (abuse, fraud, …), else null. */
  feedbackType: string | null;
  original: OriginalRefs;
}

const TRACE = /\(fastmta\)\s+with\s+\S+\s+id\s+([0-9BCDFGHJKLMNPQRSTVWXYZ]{16})\b/gi;
const DIAGNOSTIC =
  /\b([45][0-5]\d)(?:[ -]+|\s*#)(?:([45]\.\d{1,3}\.\d{1,3})\b)?([^\r\n]*(?:\r?\n[ \t]+[^\r\n]+)*)/;
const STATUS = /\b([245]\.\d{1,3}\.\d{1,3})\b/;

/** Provider and MTA plain-text bounces: [format, how its text starts or says it failed]. */
const PLAIN_FORMATS: readonly (readonly [string, RegExp])[] = [
  [
    "gmail",
    /delivery to the following recipients? failed|address not found|message wasn't delivered to|the response from the remote server was|the error that the other server returned was/i,
  ],
  [
    "outlook",
    /couldn't be delivered|could not be delivered to|remote server returned '|diagnostic information for administrators/i,
  ],
  ["yahoo", /sorry, we were unable to deliver your message/i],
  ["qmail", /this is the qmail-send program/i],
  [
    "exim",
    /this message was created automatically by mail delivery software|smtp error from remote mail server/i,
  ],
  [
    "postfix",
    /this is the mail system at host|i'm sorry to have to inform you that your message could not/i,
  ],
  [
    "generic",
    /undeliver|delivery (status notification|has failed|failure)|returned mail|failure notice|mail delivery (failed|subsystem)/i,
  ],
];
const TEMPORARY =
  /will (retry|keep trying|continue trying)|has been delayed|delivery (is )?delayed|temporar(y|ily)|not yet been delivered/i;

type Parsed = Awaited<ReturnType<typeof simpleParser>>;

function headerText(parsed: Parsed, name: string): string | null {
  const value = parsed.headers.get(name);
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object" && "text" in value) return String(value.text);
  if (typeof value === "object" && "value" in value) return String(value.value);
  return String(value);
}

function partText(content: Buffer | Uint8Array): string {
  return new TextDecoder().decode(content);
}

function codeOf(diagnostic: string | null): number | null {
  const m = diagnostic ? /\b([245]\d\d)\b/.exec(diagnostic) : null;
  return m ? Number(m[1]) : null;
}

function action(value: string | null): ReportRecipient["action"] {
  const a = (value ?? "").trim().toLowerCase();
  if (a === "delayed" || a === "delivered" || a === "relayed" || a === "expanded") return a;
  return "failed";
}

/** Diagnostic-Code without its type ("smtp; 550 …" → "550 …"). */
function diagnosticText(value: string | null): string | null {
  if (!value) return null;
  const semi = value.indexOf(";");
  return (semi >= 0 && semi < 12 ? value.slice(semi + 1) : value).trim();
}

function dsnRecipients(blocks: FieldBlock[]): ReportRecipient[] {
  return blocks.slice(1).filter((b) => b.has("final-recipient") || b.has("original-recipient"))
    .map((b) => {
      const diagnostic = diagnosticText(field(b, "diagnostic-code"));
      const status = STATUS.exec(field(b, "status") ?? "")?.[1] ?? null;
      return {
        address: typedAddress(field(b, "final-recipient")) ??
          typedAddress(field(b, "original-recipient")),
        action: action(field(b, "action")),
        status,
        diagnostic,
        code: codeOf(diagnostic),
      };
    });
}

function originalRefs(headerTexts: string[]): OriginalRefs {
  const refs: OriginalRefs = { returnPath: null, queueIds: [], messageId: null, addresses: [] };
  for (const text of headerTexts) {
    const fields = readFields(headerSection(text));
    refs.returnPath ??= typedAddress(field(fields, "return-path"));
    refs.messageId ??= bareMessageId(field(fields, "message-id"));
    for (const r of fields.get("received") ?? []) {
      for (const m of r.matchAll(TRACE)) {
        const id = m[1].toUpperCase();
        if (!refs.queueIds.includes(id)) refs.queueIds.push(id);
      }
    }
    for (const name of ["to", "cc"]) {
      for (const value of fields.get(name) ?? []) {
        for (const a of addressesIn(value)) if (!refs.addresses.includes(a)) refs.addresses.push(a);
      }
    }
  }
  return refs;
}

/** A plain-text bounce: the failed addresses and the first diagnostic in the text. */
function plainRecipients(text: string, own: string[]): ReportRecipient[] {
  const diagnosticMatch = DIAGNOSTIC.exec(text);
  const diagnostic = diagnosticMatch ? diagnosticMatch[0].replace(/\s+/g, " ").trim() : null;
  const status = diagnosticMatch?.[2] ?? STATUS.exec(text)?.[1] ?? null;
  const code = diagnosticMatch ? Number(diagnosticMatch[1]) : null;
  const temporary = (code !== null && code < 500) || status?.startsWith("4.") ||
    (code === null && TEMPORARY.test(text));
  const addresses = addressesIn(text).filter((a) => !own.includes(a));
  const act = temporary ? "delayed" as const : "failed" as const;
  if (addresses.length === 0) return [{ address: null, action: act, status, diagnostic, code }];
  return addresses.map((address) => ({ address, action: act, status, diagnostic, code }));
}

function isAutoReply(parsed: Parsed): boolean {
  const auto = (headerText(parsed, "auto-submitted") ?? "").toLowerCase();
  if (auto.startsWith("auto-replied")) return true;
  if (headerText(parsed, "x-autoreply") || headerText(parsed, "x-autorespond")) return true;
  const precedence = (headerText(parsed, "precedence") ?? "").toLowerCase();
  if (precedence === "auto_reply") return true;
  const subject = headerText(parsed, "subject") ?? "";
  return /^(auto(matic)? ?(reply|response)|out of (the )?office|abwesenheit|vacation)/i.test(
    subject,
  );
}

function fromDaemon(parsed: Parsed): boolean {
  const from = (headerText(parsed, "from") ?? "").toLowerCase();
  return /mailer-daemon|postmaster|mail delivery (subsystem|system)/.test(from);
}

/** Parses one received message. */
export async function parseReport(raw: Uint8Array): Promise<ParsedReport> {
  const parsed = await simpleParser(
    Buffer.from(raw),
    {
      keepDeliveryStatus: true,
      skipHtmlToText: false,
      skipTextLinks: true,
    } as Parameters<typeof simpleParser>[1],
  );
  const contentType = parsed.headers.get("content-type") as
    | { value?: string; params?: Record<string, string> }
    | undefined;
  const reportType = (contentType?.params?.["report-type"] ?? "").toLowerCase();
  const parts = parsed.attachments;
  const byType = (type: string) => parts.filter((p) => p.contentType.toLowerCase() === type);
  const returned = [...byType("text/rfc822-headers"), ...byType("message/rfc822")]
    .map((p) => partText(p.content));
  const own = [
    ...addressesIn(headerText(parsed, "from") ?? ""),
    ...addressesIn(headerText(parsed, "to") ?? ""),
  ];

  const feedback = byType("message/feedback-report")[0];
  if (reportType === "feedback-report" || feedback) {
    const fields = readFields(feedback ? partText(feedback.content) : "");
    const original = originalRefs(returned);
    for (const value of fields.get("original-rcpt-to") ?? []) {
      for (const a of addressesIn(value)) {
        if (!original.addresses.includes(a)) original.addresses.unshift(a);
      }
    }
    original.returnPath ??= typedAddress(field(fields, "original-mail-from"));
    return {
      kind: "complaint",
      format: "arf",
      recipients: [],
      feedbackType: (field(fields, "feedback-type") ?? "abuse").toLowerCase(),
      original,
    };
  }

  const status = byType("message/delivery-status")[0];
  if (reportType === "delivery-status" || status) {
    const blocks = readFieldBlocks(status ? partText(status.content) : "");
    const recipients = dsnRecipients(blocks);
    if (recipients.length > 0) {
      return {
        kind: "dsn",
        format: "rfc3464",
        recipients,
        feedbackType: null,
        original: originalRefs(returned),
      };
    }
  }

  const text = parsed.text ?? "";
  const plainFormat = PLAIN_FORMATS.find(([, pattern]) => pattern.test(text))?.[0] ?? null;
  const subject = headerText(parsed, "subject") ?? "";
  const bounceLike = plainFormat !== null &&
    (fromDaemon(parsed) || plainFormat !== "generic" || /undeliver|fail|returned/i.test(subject));
  if (bounceLike && !isAutoReplyOnly(parsed)) {
    // The returned headers may be inline in the text (no attachment): read them from there too.
    const inline = text.search(/^(received|return-path|message-id):/im);
    const original = originalRefs([...returned, inline >= 0 ? text.slice(inline) : ""]);
    return {
      kind: "dsn",
      format: plainFormat!,
      recipients: plainRecipients(splitOriginal(text), own),
      feedbackType: null,
      original,
    };
  }
  if (isAutoReply(parsed)) {
    return {
      kind: "auto_reply",
      format: "rfc3834",
      recipients: [],
      feedbackType: null,
      original: originalRefs(returned),
    };
  }
  return {
    kind: "unknown",
    format: "unknown",
    recipients: [],
    feedbackType: null,
    original: originalRefs(returned),
  };
}

/** An auto-reply that merely quotes bounce-like words (a vacation notice, not a daemon). */
function isAutoReplyOnly(parsed: Parsed): boolean {
  return isAutoReply(parsed) && !fromDaemon(parsed) &&
    (headerText(parsed, "auto-submitted") ?? "").toLowerCase().startsWith("auto-replied");
}

/** The bounce's own words, without an inline copy of the original after them. */
function splitOriginal(text: string): string {
  const cut = text.search(
    /^(-+ ?(original message|this is a copy of the message|the header of the original)|received: |original message headers:)/im,
  );
  return cut > 0 ? text.slice(0, cut) : text;
}
