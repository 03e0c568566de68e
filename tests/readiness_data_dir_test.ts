/** `/readyz`'s data folder check: writable with room is ready; full or unwritable is not. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { dataDirCheck } from "../cli/readiness.ts";

Deno.test("readiness: a writable data folder with room is ready and left as it was", async () => {
  await using dir = tempDir();
  const check = await dataDirCheck(dir.path, 1);
  assert(check.ok, check.detail);
  assertMatch(check.detail, /^writable, \d+ MiB free$/);
  assertEquals([...Deno.readDirSync(dir.path)], [], "the probe file is removed");
});

Deno.test("readiness: a disk with less free space than needed is not ready", async () => {
  await using dir = tempDir();
  const check = await dataDirCheck(dir.path, Number.MAX_SAFE_INTEGER);
  assertEquals(check.ok, false);
  assertMatch(check.detail, /^only \d+ MiB free \(needs \d+ MiB\)$/);
});

Deno.test("readiness: a data folder that cannot be written is not ready", async () => {
  await using dir = tempDir();
  const check = await dataDirCheck(`${dir.path}/missing`, 1);
  assertEquals(check.ok, false);
  assertMatch(check.detail, /^cannot write: /);
});
