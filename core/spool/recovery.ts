/**
 * The spool's housekeeping, run on the main thread: at start, before any writer of this
 * process opens a segment, every `.open` segment whose lock no process holds belongs to a writer
 * that is gone (a crash or kill -9): its tail past the last indexed body is garbage (bytes
 * written for a batch whose transaction never committed) and is cut off, and the segment is
 * sealed. A locked one is a live writer's in another process (`fastmta send`) and is left alone. Later, a sealed
 * segment is freed once the store says none of its messages is still needed.
 *
 * Talks to: the file system, and the store through the two questions in `SegmentIndex`.
 */
import { join } from "node:path";
import { OPEN_SUFFIX, SEALED_SUFFIX } from "./segments.ts";
import { segmentHandles } from "./segment_reads.ts";

/** What the spool asks the store's index about a segment. */
export interface SegmentIndex {
  /** Where the last indexed body of the segment ends (0 when none is indexed). */
  indexedEnd(segment: string): Promise<number>;
  /**
   * Whether any message in the segment may still be read: not settled, settled lately, or with
   * a DSN still to build.
   */
  segmentInUse(segment: string, settledBefore: number): Promise<boolean>;
}

async function segmentFiles(dir: string, suffix: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.endsWith(suffix)) {
        names.push(entry.name.slice(0, -suffix.length));
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return names.sort();
}

/** What recovery did: segments sealed and garbage bytes cut off their tails. */
export interface RecoveryResult {
  sealed: number;
  truncatedBytes: number;
  /** Open segments left alone: a live writer holds them (another process, `fastmta send`). */
  live?: number;
}

/** Cuts the unindexed tail off every `.open` segment no writer holds and seals it (header). */
export async function recoverSegments(dir: string, index: SegmentIndex): Promise<RecoveryResult> {
  const result: RecoveryResult = { sealed: 0, truncatedBytes: 0 };
  for (const name of await segmentFiles(dir, OPEN_SUFFIX)) {
    const path = join(dir, name + OPEN_SUFFIX);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue; // sealed by its writer meanwhile
      throw error;
    }
    try {
      // Its writer's lock: the bytes past the index may be a batch about to commit.
      if (!(await file.tryLock(true))) {
        result.live = (result.live ?? 0) + 1;
        continue;
      }
      const end = await index.indexedEnd(name);
      const { size } = await file.stat();
      if (size > end) {
        await file.truncate(end);
        result.truncatedBytes += size - end;
      }
      await Deno.rename(path, join(dir, name + SEALED_SUFFIX));
      result.sealed++;
    } finally {
      file.close();
    }
  }
  return result;
}

/** Options of `freeSegments`. */
export interface FreeOptions {
  now: number;
  /**
   * How long after its last write and its messages' last settle a segment is kept: room for the
   * commit that follows a write (a full segment is sealed before the batch after it, possibly
   * before the last batch's transaction commits) and for the console's message details. DSNs do
   * not depend on it: the index keeps a segment while one of its messages has a DSN to build.
   */
  graceMs: number;
}

/** Deletes the sealed segments no message needs any more; returns how many. */
export async function freeSegments(
  dir: string,
  index: SegmentIndex,
  options: FreeOptions,
): Promise<number> {
  const before = options.now - options.graceMs;
  let freed = 0;
  for (const name of await segmentFiles(dir, SEALED_SUFFIX)) {
    const path = join(dir, name + SEALED_SUFFIX);
    const { mtime } = await Deno.stat(path);
    if (mtime && mtime.getTime() > before) continue;
    if (await index.segmentInUse(name, before)) continue;
    await Deno.remove(path);
    segmentHandles.forget(dir, name); // after the remove: a read from now on finds it gone
    freed++;
  }
  return freed;
}
