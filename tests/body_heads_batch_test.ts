/**
 * Delivery reads the body heads of units prepared in the same turn in one statement per head
 * size; each unit gets its own message's head (a buffer of its own, since each attempt frees
 * what it read), and a gone message reads as null.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { batchedBodyHeads } from "../core/delivery/body_heads.ts";
import type { BodyHead } from "../core/store/mod.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("body heads of one turn: one statement per head size, each unit its own head", async () => {
  const calls: { ids: string[]; maxBytes: number }[] = [];
  const stored = new Map([["m1", "Subject: one\r\n\r\nx"], ["m2", "Subject: two\r\n\r\ny"]]);
  const read = batchedBodyHeads({
    readBodyHeads: (ids, maxBytes) => {
      calls.push({ ids: [...ids], maxBytes });
      const heads = new Map<string, BodyHead>();
      for (const id of ids) {
        const text = stored.get(id);
        if (text) heads.set(id, { head: bytes(text).slice(0, maxBytes), size: text.length });
      }
      return Promise.resolve(heads);
    },
  });
  const [a, b, gone, aAgain, short] = await Promise.all([
    read("m1", 100),
    read("m2", 100),
    read("m3", 100),
    read("m1", 100), // a second unit of m1 (another domain)
    read("m2", 4),
  ]);
  assertEquals(calls, [
    { ids: ["m1", "m2", "m3", "m1"], maxBytes: 100 },
    { ids: ["m2"], maxBytes: 4 },
  ]);
  assertEquals(new TextDecoder().decode(a?.head), stored.get("m1"));
  assertEquals(new TextDecoder().decode(b?.head), stored.get("m2"));
  assertEquals(gone, null);
  assert(a && aAgain);
  assertEquals(aAgain.head, a.head);
  assert(aAgain.head.buffer !== a.head.buffer, "two units of one message share no buffer");
  assertEquals(new TextDecoder().decode(short?.head), "Subj");
  assertEquals(short?.size, stored.get("m2")!.length);

  // A later turn reads again (nothing is cached).
  await read("m1", 100);
  assertEquals(calls.length, 3);
});

Deno.test("body heads: a failing statement fails every read of its batch", async () => {
  const read = batchedBodyHeads({
    readBodyHeads: () => Promise.reject(new Error("database away")),
  });
  const one = read("m1", 100);
  const two = read("m2", 100);
  assertEquals((await assertRejects(() => one)).message, "database away");
  assertEquals((await assertRejects(() => two)).message, "database away");
});
