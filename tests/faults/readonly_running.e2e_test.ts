/**
 * Issue 18, the data folder turned read-only while the node runs and load flows. A remount
 * cannot do it (the kernel refuses with EBUSY while files are open for writing, also on a
 * `remount,bind,ro` bind mount; `blockdev --setro` on the loop device only logs "Trying to write
 * to read-only block-device" and the writes go through; there is no device-mapper here). What
 * does it is what makes Linux turn a file system read-only in real life, a file-system error:
 * the folder is an ext4 image on a loop device mounted `errors=remount-ro`, and writing to
 * `/sys/fs/ext4/<dev>/trigger_fs_error` makes every write fail with EROFS at once, open files
 * included. Inbound must answer 4xx, never 250, and `/readyz` must say why. ext4 keeps such a
 * file system read-only until it is unmounted and checked (the journal is aborted), so recovery
 * is: stop the node, `e2fsck`, mount, start; then the ledger must balance (nothing accepted
 * lost). The batch committed in the few milliseconds between the journal's abort and the first
 * refused write was lost in about one run of eight although SQLite reported it durable (its
 * bytes were not in the WAL after `e2fsck`): core/store/fs_fence.ts now refuses such a batch.
 * Needs root, losetup and mkfs.ext4; ignored otherwise.
 */
import { assert } from "../helpers/assert.ts";
import { startE2eFixture } from "../helpers/e2e_fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { balance, describeLedger, describeMissing, waitDrained } from "./accounting.ts";
import { nodeOnMount, run, runsAsRoot, steadyLoad, stopLoad } from "./mounted_data.ts";
import { faultZones } from "./zones.ts";

Deno.test({
  name: "data folder read-only while running: 4xx never 250, /readyz says why, nothing lost",
  ignore: !runsAsRoot(["losetup", "mkfs.ext4", "e2fsck"]),
  fn: async () => {
    await using e2e = await startE2eFixture({ prefix: "fastmta-roload-", zones: faultZones });
    const image = `${e2e.dir}/data.img`;
    const mnt = `${e2e.dir}/mnt`;
    await Deno.mkdir(mnt);
    run("truncate", ["-s", "256M", image]);
    run("mkfs.ext4", ["-q", image]);
    const device = run("losetup", ["-f", "--show", image]);
    run("blockdev", ["--setrw", device]);
    const mount = () => run("mount", ["-o", "errors=remount-ro", device, mnt]);
    mount();
    let mounted = true;
    const load = { current: undefined as Awaited<ReturnType<typeof steadyLoad>> | undefined };
    try {
      const { config, configPath } = await nodeOnMount(e2e, mnt);
      let server = await e2e.start(config);
      const l = load.current = await steadyLoad(server, "o");
      // The file system turns read-only under the running node.
      await Deno.writeTextFile(`/sys/fs/ext4/${device.split("/").at(-1)}/trigger_fs_error`, "test");
      const acceptedAtFault = l.acceptedCount;
      const tempBefore = l.temporaryFailures;
      await waitUntil(() => l.temporaryFailures >= tempBefore + 20, {
        timeoutMs: 60_000,
        message: "4xx answers while the folder is read-only",
      });
      const readyz = await fetch(`${server.adminUrl}/readyz`);
      const ready = await readyz.text();
      console.log(`readyz while read-only: ${readyz.status} ${ready}`);
      assert(readyz.status === 503, `/readyz not ready while read-only: ${ready}`);
      assert(/read-only|readonly|EROFS/i.test(ready), `/readyz names the cause: ${ready}`);
      // A 250 racing the fault may have committed just before it; after that, none.
      const acceptedWhileRo = l.acceptedCount;
      await waitUntil(() => l.temporaryFailures >= tempBefore + 40, { timeoutMs: 60_000 });
      assert(l.acceptedCount === acceptedWhileRo, "no 250 while the folder is read-only");
      l.stop();
      const result = await l.result;
      // Recovery the way an operator does it: stop, check the file system, mount, start.
      await server.stop();
      run("umount", [mnt]);
      mounted = false;
      run("e2fsck", ["-fy", device], [0, 1, 2]);
      mount();
      mounted = true;
      server = await e2e.start(config);
      await waitDrained(configPath);
      const ledger = balance(result.accepted, e2e.sink.messages, "o");
      console.log(
        describeLedger("data folder read-only while running", ledger) +
          `; accepted before the fault ${acceptedAtFault}, 4xx seen ${result.temporaryFailures}, ` +
          `given up by the client after 600 4xx ${result.gaveUp}`,
      );
      if (!ledger.balanced) {
        console.log(await describeMissing(ledger, result.accepted, configPath));
      }
      if (!ledger.balanced) {
        console.log(await describeMissing(ledger, result.accepted, configPath));
      }
      assert(ledger.balanced, describeLedger("unbalanced", ledger));
      assert(result.failed === 0, "never a 5xx");
    } catch (error) {
      e2e.dump();
      throw error;
    } finally {
      await stopLoad(load.current);
      for (const server of e2e.servers) await server.stop().catch(() => {});
      if (mounted) run("umount", ["-l", mnt], [0, 32]);
      run("losetup", ["-d", device], [0, 1]);
    }
  },
});
