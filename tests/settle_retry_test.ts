/** The retry decision of core/settle: final, due again on the schedule of the reason, too old. */
import { assertEquals } from "./helpers/assert.ts";
import { decideRetry, type RetryPolicy, scheduleDelay } from "../core/settle/mod.ts";
import type { RecipientResult } from "../core/contracts/mod.ts";

const RULE: RetryPolicy = {
  retrySchedule: [1_000, 5_000],
  connectRetrySchedule: [60_000],
  maxAge: 100_000,
};
const NOW = 1_750_000_000_000;
const delivered: RecipientResult = {
  address: "a@x.test",
  outcome: "delivered",
  code: 250,
  reply: "ok",
};
const deferred: RecipientResult = {
  address: "b@x.test",
  outcome: "deferred",
  code: 451,
  reply: "busy",
};

Deno.test("nothing deferred: final, and the rule is not looked up", () => {
  const decision = decideRetry({ attempts: 1, createdAt: NOW }, [delivered], "remote", () => {
    throw new Error("not needed");
  }, NOW);
  assertEquals(decision, { kind: "final", results: [delivered] });
});

Deno.test("deferred: due again after the schedule of its reason, the last entry repeating", () => {
  const unit = { attempts: 3, createdAt: NOW };
  assertEquals(decideRetry(unit, [delivered, deferred], "remote", () => RULE, NOW), {
    kind: "deferred",
    results: [delivered, deferred],
    retryAt: NOW + 5_000,
    reason: "remote",
  });
  const connect = decideRetry(unit, [deferred], "connect", () => RULE, NOW);
  assertEquals(connect.kind === "deferred" && connect.retryAt, NOW + 60_000);
  assertEquals(scheduleDelay([1, 2, 3], 0), 1);
  assertEquals(scheduleDelay([1, 2, 3], 9), 3);
});

Deno.test("past the max age the deferred recipients fail, the others stand", () => {
  const unit = { attempts: 1, createdAt: NOW - 99_500 };
  assertEquals(decideRetry(unit, [delivered, deferred], "remote", () => RULE, NOW), {
    kind: "final",
    results: [delivered, {
      ...deferred,
      outcome: "failed",
      reply: "busy (giving up: message too old)",
      expired: true, // the "expired" event (core/events)
    }],
  });
});
