/**
 * Secret fields of configuration objects (a smarthost's AUTH password): stored as they are (the
 * engine needs them), never shown. Every face reads objects and audit entries with the secrets
 * replaced by {@link REDACTED}; an update that sends the marker back keeps the stored value, so
 * a client may PUT what it read. Revert restores from the stored entry, secrets included.
 */

/** What a face sees instead of a secret. */
export const REDACTED = "********";

function walk(
  body: unknown,
  path: string[],
  fn: (holder: Record<string, unknown>, key: string) => void,
): void {
  let holder = body as Record<string, unknown> | undefined;
  for (const key of path.slice(0, -1)) {
    const next = holder?.[key];
    if (next === null || typeof next !== "object") return;
    holder = next as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (holder && typeof holder === "object" && last in holder) fn(holder, last);
}

/** A copy of `body` with each secret path (dotted) replaced by the marker. */
export function redact<T>(body: T, paths: readonly string[] = []): T {
  if (paths.length === 0 || body === null || typeof body !== "object") return body;
  const copy = structuredClone(body);
  for (const path of paths) {
    walk(copy, path.split("."), (holder, key) => {
      if (holder[key] !== undefined && holder[key] !== null) holder[key] = REDACTED;
    });
  }
  return copy;
}

/** `input` with every secret sent back as the marker taken from `stored` (in place). */
export function keepSecrets(input: unknown, stored: unknown, paths: readonly string[] = []): void {
  for (const path of paths) {
    const keys = path.split(".");
    walk(input, keys, (holder, key) => {
      if (holder[key] !== REDACTED) return;
      let value: unknown;
      walk(stored, keys, (s, k) => value = s[k]);
      holder[key] = value;
    });
  }
}
