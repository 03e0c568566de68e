/**
 * Reply lines of the own SMTP engine: the enhanced status code (RFC 2034, RFC 3463) each reply
 * gets, with the same choices npm `smtp-server` made (clients and our tests read them), except
 * that a text which already starts with a code ("5.7.1 …") is sent as it is.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** The generic enhanced code of each reply number. */
const BY_CODE: Record<number, string> = {
  200: "2.0.0",
  211: "2.0.0",
  214: "2.0.0",
  220: "2.0.0",
  221: "2.0.0",
  235: "2.7.0",
  250: "2.0.0",
  251: "2.1.5",
  252: "2.1.5",
  354: "2.0.0",
  420: "4.4.2",
  421: "4.4.2",
  450: "4.2.1",
  451: "4.3.0",
  452: "4.2.2",
  454: "4.7.0",
  500: "5.5.2",
  501: "5.5.4",
  502: "5.5.1",
  503: "5.5.1",
  504: "5.5.4",
  521: "5.3.2",
  523: "5.3.4",
  530: "5.7.0",
  535: "5.7.8",
  538: "5.7.0",
  550: "5.1.1",
  551: "5.1.6",
  552: "5.2.2",
  553: "5.1.3",
  554: "5.6.0",
  555: "5.5.4",
  556: "5.1.10",
  557: "5.7.1",
  558: "5.2.3",
};

/** Codes for a reply in a known situation, overriding the generic one. */
export const CONTEXT = {
  MAIL_FROM_OK: "2.1.0",
  RCPT_TO_OK: "2.1.5",
  DATA_OK: "2.6.0",
  TOO_MANY_RECIPIENTS: "4.5.3",
  MAILBOX_SYNTAX_ERROR: "5.1.3",
  SENDER_SYNTAX_ERROR: "5.1.7",
  MESSAGE_TOO_BIG: "5.3.4",
} as const;

/** How a reply chooses its enhanced code: by number, by situation, or none. */
export type CodeChoice = keyof typeof CONTEXT | "none" | undefined;

const HAS_CODE = /^[245]\.\d{1,3}\.\d{1,3} /;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1F\x7F-\x9F]/g;
// deno-lint-ignore no-control-regex
const HAS_CONTROL = /[\x00-\x1F\x7F-\x9F]/;

function enhancedOf(code: number, choice: CodeChoice): string {
  if (choice === "none" || (code >= 300 && code < 400)) return "";
  if (choice) return CONTEXT[choice];
  return BY_CODE[code] ??
    (code < 300 ? "2.0.0" : code < 500 ? "4.0.0" : "5.0.0");
}

/**
 * A reply in its wire form. One whose text never changes (MAIL's and RCPT's 250, 354, 221) is
 * formatted and encoded once ({@link constantReply}): the hot path neither formats nor encodes it.
 */
export interface FormattedReply {
  readonly code: number;
  readonly wire: string;
  readonly bytes?: Uint8Array;
}

/** A constant {@link FormattedReply} of `code` with `text` (a Buffer: node:net takes it as is). */
export function constantReply(code: number, text: string, choice?: CodeChoice): FormattedReply {
  const wire = formatReply(code, text, choice);
  return { code, wire, bytes: Buffer.from(wire, "utf8") };
}

/** The replies queued for a connection's next write (those to pipelined commands go together). */
export class PendingReplies {
  #text = "";
  /** The bytes of `#text` while it is one constant reply: written without encoding it. */
  #bytes: Uint8Array | null = null;

  add(wire: string, bytes: Uint8Array | null): void {
    this.#bytes = this.#text === "" ? bytes : null;
    this.#text += wire;
  }

  /** What to write, now no longer queued; null when nothing is. */
  take(): string | Uint8Array | null {
    if (!this.#text) return null;
    const out = this.#bytes ?? this.#text;
    this.#text = "";
    this.#bytes = null;
    return out;
  }
}

/**
 * The first line of a reply of several without enhanced codes (`choice` "none"), as
 * `formatReply` writes it: `<code>-<text>`, the rest of the reply after it.
 */
export function firstOfLines(code: number, text: string): string {
  return `${code}-${text.replace(CONTROL, " ")}\r\n`;
}

/** The wire form (CRLF-terminated) of reply `code` with `text` (one line, or several). */
export function formatReply(code: number, text: string | string[], choice?: CodeChoice): string {
  if (typeof text === "string") {
    // One line (every reply but EHLO's): no array, and no replace when nothing needs it.
    const line = HAS_CONTROL.test(text) ? text.replace(CONTROL, " ") : text;
    const enhanced = HAS_CODE.test(line) ? "" : enhancedOf(code, choice);
    return `${code} ${enhanced ? enhanced + " " : ""}${line}\r\n`;
  }
  const lines = text;
  let out = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(CONTROL, " ");
    const enhanced = HAS_CODE.test(line) ? "" : enhancedOf(code, choice);
    const sep = i < lines.length - 1 ? "-" : " ";
    out += `${code}${sep}${enhanced ? enhanced + " " : ""}${line}\r\n`;
  }
  return out;
}
