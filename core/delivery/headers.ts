/**
 * Control headers: `X-FastMTA-Pool` / `X-Group-Id` (pool choice) and `X-FastMTA-Deliver-At`
 * (scheduled send) let a submitting client steer delivery. They are read from the stored message
 * at delivery time and removed from what goes to the remote host. Only the header section is
 * scanned, and the body is copied only when a control header is present.
 */

/** Header names (lower-case) that steer delivery and are never sent on. */
export const CONTROL_HEADERS: ReadonlySet<string> = new Set([
  "x-fastmta-pool",
  "x-group-id",
  "x-fastmta-deliver-at",
]);

/** Control header values (lower-case names, unfolded) and the body without them. */
export interface ControlHeaders {
  values: Map<string, string>;
  /** The message without control headers (the input itself when it had none). */
  body: Uint8Array;
}

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder();

function isX(byte: number): boolean {
  return byte === 0x78 || byte === 0x58;
}

/** Reads and strips control headers. */
export function readControlHeaders(body: Uint8Array): ControlHeaders {
  const values = new Map<string, string>();
  const drop: [number, number][] = [];
  let pos = 0;
  while (pos < body.length) {
    // End of the header section: an empty line.
    if (body[pos] === LF || (body[pos] === CR && body[pos + 1] === LF)) break;
    // The header's extent: this line and its folded continuation lines.
    let end = pos;
    while (true) {
      const lf = body.indexOf(LF, end);
      end = lf < 0 ? body.length : lf + 1;
      if (end >= body.length || (body[end] !== 0x20 && body[end] !== 0x09)) break;
    }
    if (isX(body[pos]) && body[pos + 1] === 0x2d) {
      const colon = body.indexOf(0x3a, pos);
      if (colon > 0 && colon < end) {
        const name = decoder.decode(body.subarray(pos, colon)).trim().toLowerCase();
        if (CONTROL_HEADERS.has(name)) {
          const value = decoder.decode(body.subarray(colon + 1, end)).replace(/\r?\n[ \t]/g, " ")
            .trim();
          if (!values.has(name)) values.set(name, value);
          drop.push([pos, end]);
        }
      }
    }
    pos = end;
  }
  if (drop.length === 0) return { values, body };
  let length = body.length;
  for (const [start, end] of drop) length -= end - start;
  const out = new Uint8Array(length);
  let from = 0;
  let o = 0;
  for (const [start, end] of drop) {
    out.set(body.subarray(from, start), o);
    o += start - from;
    from = end;
  }
  out.set(body.subarray(from), o);
  return { values, body: out };
}

/**
 * Parses a scheduled-send time: an RFC 5322 or ISO 8601 date, or a number of seconds since the
 * epoch. Null when it cannot be read.
 */
export function parseDeliverAt(value: string | number | undefined | null): number | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value === "number" || /^\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    return n > 1e12 ? n : Math.round(n * 1000);
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** The first of `keys` in a unit's meta that holds a non-empty string or a number, as text. */
export function metaString(
  meta: Record<string, unknown> | null | undefined,
  ...keys: string[]
): string | null {
  for (const key of keys) {
    const value = meta?.[key];
    if (typeof value === "string" && value !== "") return value;
    if (typeof value === "number") return String(value);
  }
  return null;
}
