/**
 * Delivery status notifications (RFC 3464, in the multipart/report of RFC 6522): reading the
 * DSN parameters a message arrived with (RFC 3461: RET, ENVID, NOTIFY, ORCPT) and building the
 * report. Pure: the caller decides whom to notify and submits the result through core/accept.
 */
import { decodeXtext, mailboxKey, rfc5322Date } from "../mail/mod.ts";
import { enhancedStatus } from "./classify.ts";

/** The RFC 3461 parameters of one message, as the inbound side stores them in `meta.dsn`. */
export interface DsnParams {
  /** RET: return the full message or its headers; null when the client did not say. */
  ret: "FULL" | "HDRS" | null;
  /** ENVID, decoded from xtext. */
  envid: string | null;
  /**
   * Per recipient, keyed by mailbox (core/mail `mailboxKey`: the local part as given, the domain
   * lower-cased): NOTIFY keywords (upper-cased) and ORCPT. Read it with {@link rcptParams}.
   */
  rcpt: Map<string, RcptParams>;
}

/** One recipient's DSN parameters. */
export interface RcptParams {
  notify: string[] | null;
  orcpt: string | null;
}

/**
 * The DSN parameters of `address`: those given for that very mailbox, else (meta written before
 * local parts were kept apart, or by a client that changed case) for the address in any case.
 */
export function rcptParams(params: DsnParams, address: string): RcptParams | undefined {
  const exact = params.rcpt.get(mailboxKey(address));
  if (exact) return exact;
  let folded = foldedKeys.get(params.rcpt);
  if (!folded) {
    folded = new Map();
    for (const [key, value] of params.rcpt) {
      if (!folded.has(key.toLowerCase())) folded.set(key.toLowerCase(), value);
    }
    foldedKeys.set(params.rcpt, folded);
  }
  return folded.get(address.toLowerCase());
}

/** Per parameter map, its keys lower-cased (made at the first lookup that needs it). */
const foldedKeys = new WeakMap<Map<string, RcptParams>, Map<string, RcptParams>>();

function asString(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/**
 * Reads `meta.dsn` = `{ ret, envid, rcpt: { "addr": { notify, orcpt } } }`. Anything absent or
 * malformed counts as not given; `notify` may be a string ("SUCCESS,FAILURE") or a list.
 */
export function dsnParamsFromMeta(meta: Record<string, unknown> | null | undefined): DsnParams {
  const params: DsnParams = { ret: null, envid: null, rcpt: new Map() };
  const dsn = meta?.dsn;
  if (!dsn || typeof dsn !== "object" || Array.isArray(dsn)) return params;
  const d = dsn as Record<string, unknown>;
  const ret = asString(d.ret)?.toUpperCase();
  if (ret === "FULL" || ret === "HDRS") params.ret = ret;
  const envid = asString(d.envid);
  if (envid) params.envid = decodeXtext(envid);
  if (d.rcpt && typeof d.rcpt === "object" && !Array.isArray(d.rcpt)) {
    for (const [address, value] of Object.entries(d.rcpt as Record<string, unknown>)) {
      if (!value || typeof value !== "object") continue;
      const v = value as Record<string, unknown>;
      let notify: string[] | null = null;
      if (typeof v.notify === "string") notify = v.notify.split(",");
      else if (Array.isArray(v.notify)) notify = v.notify.filter((n) => typeof n === "string");
      notify = notify?.map((n) => n.trim().toUpperCase()).filter(Boolean) ?? null;
      params.rcpt.set(mailboxKey(address), {
        notify: notify && notify.length > 0 ? notify : null,
        orcpt: asString(v.orcpt),
      });
    }
  }
  return params;
}

/** Whether the sender asked (or, by default, did not refuse) to hear about a failure. */
export function wantsFailureNotice(params: DsnParams, address: string): boolean {
  const notify = rcptParams(params, address)?.notify;
  if (!notify) return true;
  return !notify.includes("NEVER") && notify.includes("FAILURE");
}

/** One recipient line of a report. */
export interface DsnRecipient {
  /** The address we tried (Final-Recipient). */
  address: string;
  /** ORCPT as given ("rfc822;addr", xtext-encoded), if any. */
  orcpt?: string | null;
  action: "failed" | "delayed";
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** The host that answered (Remote-MTA), if any. */
  remoteMta?: string | null;
  remoteIp?: string | null;
  /** The SMTP reply ("550 5.1.1 …"), when a server gave one. */
  smtpReply?: string | null;
  /** Our own reason, when no server gave a reply. */
  localReason?: string | null;
  lastAttemptAt?: number | null;
  /** For "delayed": until when we keep trying. */
  willRetryUntil?: number | null;
}

/** Everything one report says. */
export interface DsnInput {
  /** Our host name (Reporting-MTA, the From domain, the Message-ID). */
  reportingMta: string;
  /** The original envelope sender: the report's only recipient. */
  to: string;
  queueId: string;
  envid?: string | null;
  arrivalDate: number;
  recipients: DsnRecipient[];
  /** What to return of the original: the whole message or its header section. */
  ret: "FULL" | "HDRS";
  original: Uint8Array;
  /** An original bigger than this is returned as headers only. */
  maxReturnSize: number;
  now?: number;
  /** For tests: fixed MIME boundary and Message-ID. */
  boundary?: string;
  messageId?: string;
}

/** Printable ASCII only, bounded: remote text and addresses are untrusted. */
function clean(text: string, max = 900): string {
  const ascii = text.replace(/[\r\n\t]+/g, " ").replace(/[^\x20-\x7e]/g, "?").trim();
  return ascii.length > max ? ascii.slice(0, max) + "..." : ascii;
}

/** Folds a header-style field at spaces so no line exceeds ~78 characters. */
function fold(line: string): string {
  if (line.length <= 78) return line;
  const out: string[] = [];
  let rest = line;
  while (rest.length > 78) {
    let cut = rest.lastIndexOf(" ", 78);
    if (cut <= 0) cut = rest.indexOf(" ", 78);
    if (cut <= 0) break;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  out.push(rest);
  return out.join("\r\n");
}

/** The header section of a message (without the blank line), or all of it when it has none. */
export function headerSection(message: Uint8Array): Uint8Array {
  for (let i = 0; i < message.length - 1; i++) {
    if (message[i] !== 0x0a) continue;
    if (message[i + 1] === 0x0a) return message.subarray(0, i + 1);
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) return message.subarray(0, i + 1);
  }
  return message;
}

function hasEightBit(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return true;
  return false;
}

/** The status a recipient line reports, from its reply or our own reason. */
export function statusOf(
  code: number | null,
  reply: string | null,
  category: string | null,
): string {
  const found = enhancedStatus(code, reply ?? "");
  if (found) return found;
  if (code !== null && code >= 400) return `${Math.floor(code / 100)}.0.0`;
  switch (category) {
    case "bad_domain":
      return "5.1.2";
    case "bad_mailbox":
      return "5.1.1";
    case "dns":
      return "4.4.3";
    case "timeout":
      return "4.4.2";
    case "connection":
      return "4.4.1";
    case "dkim":
      return "4.7.0";
  }
  return "5.0.0";
}

/** The reply from its code on ("host x said: 550 …" → "550 …"). */
export function smtpReplyOf(code: number | null, reply: string | null): string | null {
  if (code === null || !reply) return null;
  const at = reply.search(new RegExp(`\\b${code}\\b`));
  return at >= 0 ? reply.slice(at) : `${code} ${reply}`;
}

function orcptField(orcpt: string): string {
  const decoded = decodeXtext(orcpt);
  const semi = decoded.indexOf(";");
  return semi > 0
    ? `${decoded.slice(0, semi).trim()}; ${decoded.slice(semi + 1).trim()}`
    : `rfc822; ${decoded.trim()}`;
}

function humanLine(r: DsnRecipient): string {
  const where = r.remoteMta ? `host ${r.remoteMta}${r.remoteIp ? `[${r.remoteIp}]` : ""}` : null;
  const why = r.smtpReply
    ? `${where ?? "the remote server"} said: ${r.smtpReply}`
    : (r.localReason ?? "delivery failed");
  return `<${clean(r.address, 320)}>: ${clean(why)}`;
}

/** Builds the report: a complete RFC 5322 message with CRLF line ends. */
export function buildDsn(input: DsnInput): Uint8Array {
  const now = input.now ?? Date.now();
  const boundary = input.boundary ?? `=_fastmta_${crypto.randomUUID().replaceAll("-", "")}`;
  const messageId = input.messageId ??
    `<${input.queueId}.dsn.${crypto.randomUUID().slice(0, 8)}@${input.reportingMta}>`;
  const failed = input.recipients.filter((r) => r.action === "failed");
  const delayed = input.recipients.filter((r) => r.action === "delayed");
  const subject = failed.length > 0
    ? "Undelivered Mail Returned to Sender"
    : "Delayed Mail (still being retried)";
  const tooBig = input.ret === "FULL" && input.original.length > input.maxReturnSize;
  const returnHeaders = input.ret === "HDRS" || tooBig;
  const returned = returnHeaders ? headerSection(input.original) : input.original;

  const human: string[] = [
    `This is the mail system at host ${input.reportingMta}.`,
    "",
  ];
  if (failed.length > 0) {
    human.push(
      "I'm sorry to have to inform you that your message could not",
      "be delivered to one or more recipients. It's attached below.",
      "",
      ...failed.map(humanLine),
      "",
    );
  }
  if (delayed.length > 0) {
    human.push(
      "Your message could not be delivered yet to the recipients below.",
      "It will be retried; you do not need to send it again.",
      "",
      ...delayed.map((r) =>
        humanLine(r) +
        (r.willRetryUntil ? ` (retrying until ${rfc5322Date(r.willRetryUntil)})` : "")
      ),
      "",
    );
  }
  if (tooBig) {
    human.push("The message was too large to return whole; its headers are attached.", "");
  }

  const perMessage = [
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `X-Fastmta-Queue-ID: ${clean(input.queueId, 64)}`,
    ...(input.envid ? [`Original-Envelope-Id: ${clean(input.envid, 100)}`] : []),
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
  ];
  const perRecipient = input.recipients.map((r) => {
    const fields = [`Final-Recipient: rfc822; ${clean(r.address, 320)}`];
    if (r.orcpt) fields.push(`Original-Recipient: ${clean(orcptField(r.orcpt), 400)}`);
    fields.push(`Action: ${r.action}`, `Status: ${r.status}`);
    if (r.remoteMta) fields.push(`Remote-MTA: dns; ${clean(r.remoteMta, 255)}`);
    if (r.smtpReply) fields.push(fold(`Diagnostic-Code: smtp; ${clean(r.smtpReply)}`));
    else if (r.localReason) {
      fields.push(fold(`Diagnostic-Code: X-fastmta; ${clean(r.localReason)}`));
    }
    if (r.lastAttemptAt) fields.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptAt)}`);
    if (r.action === "delayed" && r.willRetryUntil) {
      fields.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
    }
    return fields.join("\r\n");
  });

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${clean(input.to, 320)}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: ${messageId}`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    "",
    "This is a MIME-encapsulated message.",
    "",
    `--${boundary}`,
    "Content-Description: Notification",
    "Content-Type: text/plain; charset=us-ascii",
    "",
    ...human,
    `--${boundary}`,
    "Content-Description: Delivery report",
    "Content-Type: message/delivery-status",
    "",
    perMessage.join("\r\n"),
    "",
    perRecipient.join("\r\n\r\n"),
    "",
    `--${boundary}`,
    `Content-Description: ${returnHeaders ? "Undelivered Message Headers" : "Undelivered Message"}`,
    `Content-Type: ${returnHeaders ? "text/rfc822-headers" : "message/rfc822"}`,
    ...(hasEightBit(returned) ? ["Content-Transfer-Encoding: 8bit"] : []),
    "",
    "",
  ].join("\r\n");
  const endsWithNewline = returned.length > 0 && returned[returned.length - 1] === 0x0a;
  const tail = `${endsWithNewline ? "" : "\r\n"}\r\n--${boundary}--\r\n`;
  const encoder = new TextEncoder();
  const a = encoder.encode(head);
  const c = encoder.encode(tail);
  const out = new Uint8Array(a.length + returned.length + c.length);
  out.set(a, 0);
  out.set(returned, a.length);
  out.set(c, a.length + returned.length);
  return out;
}
