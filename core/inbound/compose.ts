/**
 * Builds an RFC 5322 message from structured fields (subject, text, html, extra headers), for
 * channels that take mail as data rather than as a finished message (the inject queue, the REST
 * API).
 * Plain ASCII text with short lines goes as 7bit; anything else as base64 in UTF-8.
 */
import { rfc5322Date } from "../mail/mod.ts";

/** Structured content of a message. */
export interface ComposeInput {
  from: string;
  to: string[];
  subject?: string;
  text?: string;
  html?: string;
  /** Extra header fields; `From`, `To`, `Subject`, `Date`, `Message-ID` here replace ours. */
  headers?: Record<string, string>;
  messageId: string;
  date?: Date;
}

const encoder = new TextEncoder();

function isPrintableAscii(text: string): boolean {
  return /^[\x20-\x7e\t\r\n]*$/.test(text);
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** RFC 2047 encoded words for a header value that is not plain ASCII. */
export function encodeHeaderValue(value: string): string {
  if (isPrintableAscii(value) && !/[\r\n]/.test(value)) return value;
  const words: string[] = [];
  let chunk = "";
  for (const char of value.replace(/[\r\n]+/g, " ")) {
    // 45 bytes of UTF-8 become 60 characters of base64: each word stays under 75.
    if (encoder.encode(chunk + char).length > 45) {
      words.push(`=?UTF-8?B?${base64(encoder.encode(chunk))}?=`);
      chunk = "";
    }
    chunk += char;
  }
  if (chunk) words.push(`=?UTF-8?B?${base64(encoder.encode(chunk))}?=`);
  return words.join("\r\n ");
}

function bodyPart(text: string, type: "plain" | "html"): { headers: string; body: string } {
  const crlf = text.replace(/\r?\n/g, "\r\n");
  const shortLines = crlf.split("\r\n").every((line) => line.length <= 998);
  if (isPrintableAscii(text) && shortLines) {
    return {
      headers: `Content-Type: text/${type}; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit`,
      body: crlf,
    };
  }
  const encoded = base64(encoder.encode(crlf)).replace(/.{76}/g, "$&\r\n");
  return {
    headers: `Content-Type: text/${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64`,
    body: encoded,
  };
}

/**
 * `Name: <a>, <b>, …` folded after a comma wherever a line would pass 78 characters (RFC 5322
 * §2.1.1), so a long recipient list never makes a line over the 998-octet limit.
 */
function addressField(name: string, addresses: string[]): string {
  let field = `${name}:`;
  let lineLength = field.length;
  addresses.forEach((address, i) => {
    const item = ` <${address}>${i < addresses.length - 1 ? "," : ""}`;
    if (i > 0 && lineLength + item.length > 78) {
      field += "\r\n";
      lineLength = 0;
    }
    field += item;
    lineLength += item.length;
  });
  return field;
}

/** The composed message, CRLF line ends, ready to be queued. */
export function composeMessage(input: ComposeInput): string {
  const extra = input.headers ?? {};
  const has = (name: string) =>
    Object.keys(extra).some((k) => k.toLowerCase() === name.toLowerCase());
  const lines: string[] = [];
  if (!has("From")) lines.push(`From: ${input.from ? `<${input.from}>` : "<>"}`);
  if (!has("To")) lines.push(addressField("To", input.to));
  if (!has("Subject") && input.subject !== undefined) {
    lines.push(`Subject: ${encodeHeaderValue(input.subject)}`);
  }
  if (!has("Date")) {
    lines.push(`Date: ${rfc5322Date(input.date ?? new Date())}`);
  }
  if (!has("Message-ID")) lines.push(`Message-ID: <${input.messageId}>`);
  for (const [name, value] of Object.entries(extra)) {
    lines.push(`${name}: ${encodeHeaderValue(value)}`);
  }
  lines.push("MIME-Version: 1.0");
  const parts = [
    ...(input.text !== undefined ? [bodyPart(input.text, "plain")] : []),
    ...(input.html !== undefined ? [bodyPart(input.html, "html")] : []),
  ];
  if (parts.length === 1) {
    return `${lines.join("\r\n")}\r\n${parts[0].headers}\r\n\r\n${parts[0].body}\r\n`;
  }
  const boundary = `=_fastmta_${crypto.randomUUID().replaceAll("-", "")}`;
  lines.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
  const body = parts.map((p) => `--${boundary}\r\n${p.headers}\r\n\r\n${p.body}\r\n`).join("");
  return `${lines.join("\r\n")}\r\n\r\n${body}--${boundary}--\r\n`;
}
