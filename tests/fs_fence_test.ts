/**
 * The accept fence (core/store/fs_fence.ts): after each accepted batch commits on SQLite, a size
 * change of a small file beside the database proves the file system still takes metadata
 * changes; if it does not, the batch is refused although SQLite reported the commit (the ext4
 * journal-abort window that lost a 250'd batch in tests/faults/readonly_running.e2e_test.ts).
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { FENCE_FILE, FileSystemFence } from "../core/store/fs_fence.ts";

function message(id: string): NewMessage {
  return {
    id,
    sender: "s@example.test",
    recipients: ["r@example.test"],
    channel: "smtp",
    clientIp: null,
    receivedAt: Date.now(),
    body: new TextEncoder().encode("Subject: t\r\n\r\nbody\r\n"),
  };
}

Deno.test("fence: each check changes the file's size; a folder that is gone fails the check", async () => {
  await using dir = tempDir("fastmta-fence-");
  const fence = new FileSystemFence(dir.path);
  fence.check();
  assertEquals(Deno.statSync(`${dir.path}/${FENCE_FILE}`).size, 1);
  fence.check();
  assertEquals(Deno.statSync(`${dir.path}/${FENCE_FILE}`).size, 0);
  fence.close();
  const gone = new FileSystemFence(`${dir.path}/missing`);
  let failed = false;
  try {
    gone.check();
  } catch {
    failed = true;
  }
  assert(failed, "a check that cannot touch the file throws");
});

Deno.test("fence: the accept store checks after each batch; a failed check refuses the batch", async () => {
  await using dir = tempDir("fastmta-fence-store-");
  const config = parseConfig({ data_dir: dir.path });
  const admin = await openStore(config, "admin");
  await admin.migrate();
  const accept = await openStore(config, "accept");
  try {
    await accept.insertMessages([message("FENCE1")]);
    const fenceFile = `${dir.path}/${FENCE_FILE}`;
    assertEquals(Deno.statSync(fenceFile).size, 1, "the batch was fenced");
    // The file system "fails" between commit and reply: the fence file cannot be opened (a
    // folder took its place; a fresh store opens the path again).
    Deno.removeSync(fenceFile);
    Deno.mkdirSync(fenceFile);
    await accept.close();
    const again = await openStore(config, "accept");
    try {
      await assertRejects(() => again.insertMessages([message("FENCE2")]));
    } finally {
      await again.close();
    }
    // Other roles do not fence (their commits are not promised to anyone).
    await admin.insertMessages([message("FENCE3")]);
  } finally {
    await admin.close();
    await accept.close().catch(() => {});
  }
});
