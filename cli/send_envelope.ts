/**
 * The envelope of a message from the command line, as `fastmta send` and `sendmail` build it:
 * recipients from `--to`, from arguments and (with `-t`) from the To/Cc/Bcc fields, whose Bcc
 * fields are then removed; the sender from `--from`/`-f`, else the login name at
 * smtp.hostname, as sendmail does; a From field (with `-F`'s full name) when the message has none.
 */
import { isMailboxAddress } from "../core/mail/mod.ts";
import {
  hasHeaderField,
  headerAddresses,
  withoutHeaderFields,
} from "../core/mail/header_fields.ts";

/** A value, or why the message cannot be queued (exit code 2, nothing stored). */
export type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Envelope sender and recipients. */
export interface Envelope {
  sender: string;
  recipients: string[];
}

/** What the command line says about the envelope. */
export interface EnvelopeRequest {
  from?: string;
  /** `--to` values and recipient arguments; each may hold several, separated by commas. */
  to: string[];
  /** `-t`: also the To, Cc and Bcc addresses of the header; the Bcc fields are removed. */
  headerRecipients?: boolean;
  /** `-F`: the full name of the From field added when the message has none. */
  fullName?: string;
}

const RECIPIENT_FIELDS = ["To", "Cc", "Bcc"] as const;

/** The sender when none is given: sendmail's login name at our host name. */
export function defaultSender(hostname: string): string {
  const user = Deno.env.get("LOGNAME") ?? Deno.env.get("USER") ?? "root";
  return `${user.replace(/[^A-Za-z0-9._+-]/g, "") || "root"}@${hostname}`;
}

/** The envelope and the message to store (CRLF `content`), or why it cannot be queued. */
export function commandLineEnvelope(
  request: EnvelopeRequest,
  content: Uint8Array,
  hostname: string,
): Checked<{ envelope: Envelope; content: Uint8Array }> {
  const given = request.from ?? defaultSender(hostname);
  const sender = given.trim().replace(/^<(.*)>$/, "$1");
  if (sender !== "" && !isMailboxAddress(sender)) {
    return { ok: false, reason: `Invalid sender "${given}": expected user@domain or "<>"` };
  }
  const recipients: string[] = [];
  const add = (item: string, where: string): string | null => {
    const address = item.trim().replace(/^<(.*)>$/, "$1");
    if (!isMailboxAddress(address)) {
      return `Invalid recipient "${item.trim()}"${where}: expected user@domain`;
    }
    if (!recipients.some((r) => r.toLowerCase() === address.toLowerCase())) {
      recipients.push(address);
    }
    return null;
  };
  for (const item of request.to.flatMap((list) => list.split(","))) {
    const problem = add(item, "");
    if (problem) return { ok: false, reason: problem };
  }
  let message = content;
  if (request.headerRecipients) {
    for (const address of headerAddresses(message, RECIPIENT_FIELDS)) {
      const problem = add(address, " in the To/Cc/Bcc header fields");
      if (problem) return { ok: false, reason: problem };
    }
    message = withoutHeaderFields(message, ["Bcc"]);
  }
  if (recipients.length === 0) {
    return {
      ok: false,
      reason: request.headerRecipients
        ? "No recipients: the message has no To, Cc or Bcc address and none was given"
        : "No recipients",
    };
  }
  if (!hasHeaderField(message, "From")) message = withFromField(message, sender, request.fullName);
  return { ok: true, value: { envelope: { sender, recipients }, content: message } };
}

/** The message with `From:` in front (sendmail adds one when the message has none). */
function withFromField(message: Uint8Array, sender: string, fullName?: string): Uint8Array {
  const mailbox = sender === "" ? "MAILER-DAEMON" : sender;
  const name = fullName?.replace(/[\r\n"\\]/g, "").trim();
  const field = name ? `From: "${name}" <${mailbox}>\r\n` : `From: ${mailbox}\r\n`;
  const head = new TextEncoder().encode(field);
  const out = new Uint8Array(head.length + message.length);
  out.set(head);
  out.set(message, head.length);
  return out;
}

/**
 * The message up to a line holding a single "." (sendmail without `-i`), or all of it. The
 * ".\n" line itself is dropped.
 */
export function untilDotLine(input: Uint8Array): Uint8Array {
  for (let start = 0; start < input.length;) {
    const end = input.indexOf(10, start);
    const stop = end < 0 ? input.length : end;
    const line = input.subarray(start, stop);
    if (
      (line.length === 1 && line[0] === 46) ||
      (line.length === 2 && line[0] === 46 && line[1] === 13)
    ) {
      return input.subarray(0, start);
    }
    if (end < 0) break;
    start = end + 1;
  }
  return input;
}
