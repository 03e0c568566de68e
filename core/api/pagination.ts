/**
 * Cursor pagination for every list of the API: a cursor is an opaque string (base64url of a small
 * JSON position such as `{"before":"M123"}`), so a client can only hand back what it was given
 * and the position's shape may change without a new API version. Imports nothing, so services,
 * routes and browsers can use it.
 */

/** A position in a list, as the service that made the cursor reads it back. */
export type CursorPosition = Record<string, string | number>;

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): string {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return new TextDecoder("utf-8", { fatal: true }).decode(
    Uint8Array.from(binary, (c) => c.charCodeAt(0)),
  );
}

/** Makes an opaque cursor for `position`. */
export function encodeCursor(position: CursorPosition): string {
  return toBase64Url(JSON.stringify(position));
}

/**
 * The position a cursor of `encodeCursor` holds, or null when `cursor` is not one (a client's
 * typo or a forged value: the caller answers 400 naming the `cursor` field).
 */
export function decodeCursor(cursor: string): CursorPosition | null {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(cursor)) return null;
  try {
    const value: unknown = JSON.parse(fromBase64Url(cursor));
    if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
    const fields = Object.values(value as Record<string, unknown>);
    const plain = fields.every((v) => typeof v === "string" || typeof v === "number");
    return plain ? value as CursorPosition : null;
  } catch {
    return null;
  }
}

/**
 * One page from `rows` fetched with `limit + 1`: the first `limit` rows, and a cursor at the
 * last of them when there was one more (so the last page has no `next_cursor`).
 */
export function pageFrom<T>(
  rows: T[],
  limit: number,
  positionOf: (last: T) => CursorPosition,
): { items: T[]; next_cursor?: string } {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, next_cursor: encodeCursor(positionOf(items[items.length - 1])) };
}
