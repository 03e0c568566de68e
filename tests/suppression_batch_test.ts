/**
 * The suppression screen reads the entries of units screened in the same turn in one query per
 * sending domain, and each unit gets exactly its own recipients' entries.
 */
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { batchedSuppressions } from "../core/bounce/suppression_batch.ts";
import type { Suppression } from "../core/store/mod.ts";

function entry(address: string): Suppression {
  return {
    address,
    category: "hard",
    code: 550,
    reason: "gone",
    messageId: null,
    createdAt: 0,
    expiresAt: null,
  };
}

Deno.test("suppression lookups of one turn: one query per sending domain, each unit its own", async () => {
  const calls: { addresses: string[]; domain: string | undefined }[] = [];
  const lookup = batchedSuppressions({
    suppressions: (addresses, _now, domain) => {
      calls.push({ addresses: [...addresses].sort(), domain });
      return Promise.resolve(
        addresses.map((a) => a.toLowerCase()).filter((a) => a.startsWith("bad")).map(entry),
      );
    },
  });
  const [a, b, c] = await Promise.all([
    lookup(["bad1@x.test", "ok@x.test"], "s.test"),
    lookup(["BAD2@x.test"], "s.test"),
    lookup(["bad3@x.test"], "other.test"),
  ]);
  assertEquals(calls, [
    { addresses: ["BAD2@x.test", "bad1@x.test", "ok@x.test"], domain: "s.test" },
    { addresses: ["bad3@x.test"], domain: "other.test" },
  ]);
  assertEquals(a.map((s) => s.address), ["bad1@x.test"]);
  assertEquals(b.map((s) => s.address), ["bad2@x.test"]);
  assertEquals(c.map((s) => s.address), ["bad3@x.test"]);

  // A later turn reads again (nothing is cached).
  await lookup(["bad1@x.test"], "s.test");
  assertEquals(calls.length, 3);
});

Deno.test("suppression lookups: a failing query fails every lookup of its batch", async () => {
  const lookup = batchedSuppressions({
    suppressions: () => Promise.reject(new Error("database away")),
  });
  const one = lookup(["a@x.test"], "s.test");
  const two = lookup(["b@x.test"], "s.test");
  assertEquals((await assertRejects(() => one)).message, "database away");
  assertEquals((await assertRejects(() => two)).message, "database away");
});
