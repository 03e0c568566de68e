/**
 * Bounds on the shape of a JSON value we did not write (inject metadata, stored meta, documents
 * from the broker), checked without recursion. V8's JSON.parse and JSON.stringify cope with any
 * depth, but structured clone (postMessage to a worker, structuredClone) recurses and throws
 * "Maximum call stack size exceeded" at a few thousand levels: a value must pass this check
 * before anything recursive touches it.
 */

/** Limits a JSON value must keep. Absent limits are not checked. */
export interface JsonShapeLimits {
  /** Deepest nesting of objects and arrays: `{}` is 1, `{"a":[1]}` is 2. */
  maxDepth: number;
  /** Most object keys plus array elements over the whole value. */
  maxKeys?: number;
  /** Longest string (values and object keys), in UTF-8 bytes. */
  maxStringBytes?: number;
  /** Largest size of the value written as JSON, in UTF-8 bytes. */
  maxBytes?: number;
}

interface Pending {
  value: unknown;
  depth: number;
  /** Where the value sits, built only when it is reported. */
  parent: Pending | null;
  key: string | number | null;
}

/** Longest path shown in a reason; the rest is elided. */
const MAX_PATH_CHARS = 80;
const encoder = new TextEncoder();

/** Whether `text` is over `maxBytes` of UTF-8; a UTF-16 code unit is 1 to 3 bytes of it. */
function longerThan(text: string, maxBytes: number): boolean {
  if (text.length * 3 <= maxBytes) return false;
  if (text.length > maxBytes) return true;
  return encoder.encode(text).byteLength > maxBytes;
}

function pathOf(node: Pending, root: string): string {
  const keys: (string | number)[] = [];
  for (let at: Pending | null = node; at !== null && at.key !== null; at = at.parent) {
    keys.push(at.key);
  }
  let path = root;
  for (const key of keys.reverse()) {
    path += typeof key === "number"
      ? `[${key}]`
      : /^[A-Za-z_$][\w$-]*$/.test(key)
      ? `${path === "" ? "" : "."}${key}`
      : `[${JSON.stringify(key.length > 20 ? key.slice(0, 20) + "…" : key)}]`;
    if (path.length > MAX_PATH_CHARS) return path.slice(0, MAX_PATH_CHARS) + "…";
  }
  return path;
}

function describe(path: string, problem: string): string {
  return path === "" ? problem : `${path}: ${problem}`;
}

/**
 * Why `value` does not fit `limits`, or null when it does; `path` names the value in the reason
 * (e.g. "metadata" gives `metadata: nested deeper than 32 levels`). Iterative with an explicit
 * stack, so any depth is safe to check; it stops at the first problem. Values JSON cannot hold
 * (functions, symbols, bigints, cycles) are refused too.
 */
export function checkJsonShape(
  value: unknown,
  limits: JsonShapeLimits,
  path = "",
): string | null {
  const maxKeys = limits.maxKeys ?? Infinity;
  const maxString = limits.maxStringBytes ?? Infinity;
  const stack: Pending[] = [{ value, depth: 0, parent: null, key: null }];
  const seen = new Set<object>();
  let keys = 0;
  while (stack.length > 0) {
    const node = stack.pop()!;
    const item = node.value;
    if (item === null || typeof item === "number" || typeof item === "boolean") continue;
    if (typeof item === "string") {
      if (longerThan(item, maxString)) {
        return describe(pathOf(node, path), `string longer than ${maxString} bytes`);
      }
      continue;
    }
    if (typeof item !== "object") {
      return describe(pathOf(node, path), `not a JSON value (${typeof item})`);
    }
    const depth = node.depth + 1;
    if (depth > limits.maxDepth) {
      return describe(path, `nested deeper than ${limits.maxDepth} levels`);
    }
    if (seen.has(item)) {
      return describe(pathOf(node, path), "appears twice (a cycle or a shared object)");
    }
    seen.add(item);
    if (Array.isArray(item)) {
      keys += item.length;
      if (keys > maxKeys) return describe(path, `more than ${maxKeys} keys and elements`);
      for (let i = item.length - 1; i >= 0; i--) {
        stack.push({ value: item[i], depth, parent: node, key: i });
      }
      continue;
    }
    const entries = Object.entries(item);
    keys += entries.length;
    if (keys > maxKeys) return describe(path, `more than ${maxKeys} keys and elements`);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, child] = entries[i];
      if (longerThan(key, maxString)) {
        return describe(pathOf(node, path), `key longer than ${maxString} bytes`);
      }
      stack.push({ value: child, depth, parent: node, key });
    }
  }
  if (limits.maxBytes !== undefined) {
    // Safe now: the depth is bounded (and JSON.stringify does not recurse in V8 anyway).
    const size = encoder.encode(JSON.stringify(value) ?? "").byteLength;
    if (size > limits.maxBytes) {
      return describe(path, `${size} bytes as JSON (at most ${limits.maxBytes})`);
    }
  }
  return null;
}

/** A value over the limits of `checkJsonShape`; the message is its reason. */
export class JsonShapeError extends Error {}

/** Throws JsonShapeError unless `value` fits `limits` (see checkJsonShape). */
export function assertJsonShape(value: unknown, limits: JsonShapeLimits, path = ""): void {
  const problem = checkJsonShape(value, limits, path);
  if (problem !== null) throw new JsonShapeError(problem);
}
