/**
 * Small readers for the header-like text inside reports: the field blocks of
 * message/delivery-status (RFC 3464 §2) and message/feedback-report (RFC 5965 §3), and the
 * header section of a returned original (text/rfc822-headers or message/rfc822). The MIME
 * structure itself is mailparser's; these only read one part's text.
 *
 * Pure functions.
 */

/** One block of fields: lower-case names, every value of a name in order, unfolded. */
export type FieldBlock = Map<string, string[]>;

/** Reads `Name: value` fields (folded lines joined) of one block. */
export function readFields(text: string): FieldBlock {
  const fields: FieldBlock = new Map();
  let name: string | null = null;
  let value = "";
  const flush = () => {
    if (name === null) return;
    const list = fields.get(name) ?? [];
    list.push(value.trim());
    fields.set(name, list);
    name = null;
  };
  for (const line of text.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && name !== null) {
      value += " " + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    name = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return fields;
}

/** The blocks of a delivery-status part: the per-message block first, then one per recipient. */
export function readFieldBlocks(text: string): FieldBlock[] {
  return text.split(/\r?\n[ \t]*\r?\n/).map((block) => block.trim()).filter((b) => b !== "")
    .map(readFields);
}

/** The first value of `name` in `block`, or null. */
export function field(block: FieldBlock, name: string): string | null {
  return block.get(name)?.[0] ?? null;
}

/** The address of a typed field such as `rfc822; bob@example.org` (angle brackets dropped). */
export function typedAddress(value: string | null): string | null {
  if (!value) return null;
  const semi = value.indexOf(";");
  const raw = (semi >= 0 ? value.slice(semi + 1) : value).trim().replace(/^<|>$/g, "");
  return raw.includes("@") ? raw : null;
}

/** The header section of a message's text (up to the first empty line). */
export function headerSection(text: string): string {
  const end = text.search(/\r?\n\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

/** A message id without angle brackets or spaces, or null. */
export function bareMessageId(value: string | null): string | null {
  if (!value) return null;
  const m = /<([^<>\s]+)>/.exec(value) ?? /([^<>\s]+@[^<>\s]+)/.exec(value);
  return m ? m[1] : null;
}

/** Addresses mentioned in a text (lower-cased, in order, each once). */
export function addressesIn(text: string): string[] {
  const out: string[] = [];
  for (
    const m of text.matchAll(/[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g)
  ) {
    const address = m[0].replace(/\.+$/, "").toLowerCase();
    if (!out.includes(address)) out.push(address);
  }
  return out;
}
