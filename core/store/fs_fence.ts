/**
 * A check, after each durable accept batch on SQLite, that the data folder's file system still
 * takes metadata changes; the batch is answered 250 only if it does.
 *
 * Why: ext4 mounted `errors=remount-ro` (Linux 6.18 here) aborts its journal a few milliseconds
 * before it refuses writes. An fsync in that window can return success for an append whose new
 * size went down with the aborted journal: after the recovery (`e2fsck`) the committed batch is
 * not in the file although SQLite said it was durable and SMTP said 250
 * (tests/faults/readonly_running.e2e_test.ts lost the last batch in about one run of eight; the
 * bytes were not in the WAL). A size change of a small file starts a journal handle, which fails
 * at once on an aborted journal. So: if the check fails after the commit, the commit's
 * durability is unknown and the batch is refused (4xx; a message that did survive is delivered,
 * at worst twice, which at-least-once allows). If it succeeds, the journal was alive when the
 * fsync returned, so that fsync was real. Seen working: in one of 25 runs of that test the check
 * refused a batch SQLite had committed, and none of its 4 messages survived the recovery. Cost:
 * one ftruncate per batch, not per message.
 *
 * @module
 */
import { join } from "node:path";

/** The file the check resizes, in the folder of the database file. */
export const FENCE_FILE = ".accept-fence";

/** One store's check (each thread opens its own descriptor on the shared file). */
export class FileSystemFence {
  readonly path: string;
  #file: Deno.FsFile | null = null;
  #size = 0;

  constructor(folder: string) {
    this.path = join(folder, FENCE_FILE);
  }

  /** Throws the file system's error (e.g. EROFS) when it no longer takes metadata changes. */
  check(): void {
    this.#file ??= Deno.openSync(this.path, { read: true, write: true, create: true });
    this.#size ^= 1;
    this.#file.truncateSync(this.#size);
  }

  close(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
  }
}
