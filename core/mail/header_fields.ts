/**
 * The header section of a raw message as a list of fields, for what `sendmail -t` needs: the
 * recipients named in To/Cc/Bcc, the message without its Bcc fields, whether a field exists.
 * Works on CRLF bytes and never rewrites the fields it keeps (they may be signed later).
 */
import addressparser from "nodemailer/lib/addressparser";

/** One header field: its name as written and its raw lines (folded ones included, CRLF kept). */
export interface HeaderField {
  name: string;
  start: number;
  end: number;
}

/** The fields of `message` and where its header section ends (the offset of the blank line). */
export function headerFields(message: Uint8Array): { fields: HeaderField[]; end: number } {
  const fields: HeaderField[] = [];
  let offset = 0;
  while (offset < message.length) {
    const lineEnd = nextLineEnd(message, offset);
    // A blank line ends the section; a line without a colon is not a field and ends it too.
    if (lineEnd === offset || (lineEnd === offset + 1 && message[offset] === 13)) break;
    const first = message[offset];
    if ((first === 32 || first === 9) && fields.length > 0) {
      fields[fields.length - 1].end = lineEnd + 1;
    } else {
      const line = latin1(message.subarray(offset, lineEnd));
      const colon = line.indexOf(":");
      if (colon <= 0 || /[\s]/.test(line.slice(0, colon).trimEnd())) break;
      fields.push({ name: line.slice(0, colon).trim(), start: offset, end: lineEnd + 1 });
    }
    offset = Math.min(lineEnd + 1, message.length);
  }
  return { fields, end: offset };
}

/** Whether the message has a field called `name` (case-insensitive). */
export function hasHeaderField(message: Uint8Array, name: string): boolean {
  const wanted = name.toLowerCase();
  return headerFields(message).fields.some((f) => f.name.toLowerCase() === wanted);
}

/**
 * The addresses of the fields called `names` (To, Cc, Bcc), in order, duplicates dropped;
 * display names, comments and groups are parsed as RFC 5322 says (nodemailer's parser).
 */
export function headerAddresses(message: Uint8Array, names: readonly string[]): string[] {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const found: string[] = [];
  for (const field of headerFields(message).fields) {
    if (!wanted.has(field.name.toLowerCase())) continue;
    const raw = new TextDecoder().decode(message.subarray(field.start, field.end));
    const value = raw.slice(raw.indexOf(":") + 1).replace(/\r?\n[ \t]/g, " ").trim();
    for (const entry of addressparser(value, { flatten: true })) {
      const address = entry.address?.trim();
      if (address && !found.some((a) => a.toLowerCase() === address.toLowerCase())) {
        found.push(address);
      }
    }
  }
  return found;
}

/** The message without the fields called `names` (e.g. Bcc); the same bytes otherwise. */
export function withoutHeaderFields(message: Uint8Array, names: readonly string[]): Uint8Array {
  const drop = new Set(names.map((n) => n.toLowerCase()));
  const removed = headerFields(message).fields.filter((f) => drop.has(f.name.toLowerCase()));
  if (removed.length === 0) return message;
  const size = removed.reduce((total, f) => total - (f.end - f.start), message.length);
  const out = new Uint8Array(size);
  let from = 0;
  let o = 0;
  for (const f of removed) {
    out.set(message.subarray(from, f.start), o);
    o += f.start - from;
    from = f.end;
  }
  out.set(message.subarray(from), o);
  return out;
}

function nextLineEnd(bytes: Uint8Array, from: number): number {
  const at = bytes.indexOf(10, from);
  return at < 0 ? bytes.length : at;
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes.subarray(0, 1000));
}
