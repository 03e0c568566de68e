/**
 * Assertions for tests (JSR's @std/assert cannot be fetched here): thin wrappers over
 * `node:assert` with the names Deno code expects.
 */
import nodeAssert from "node:assert/strict";

/** Fails unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message as string);
}

/** Deep, strict equality (prototypes included: spread node:sqlite rows into plain objects). */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message as string);
}

/** Fails unless `actual` matches `pattern`. */
export function assertMatch(actual: string, pattern: RegExp, message?: string): void {
  nodeAssert.match(actual, pattern, message as string);
}

/** Fails unless `fn` rejects/throws; returns the error. */
export async function assertRejects(fn: () => unknown, message?: string): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new nodeAssert.AssertionError({ message: message ?? "Expected the call to fail" });
}
