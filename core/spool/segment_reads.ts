/**
 * Reads of spooled bodies, through read handles kept open for a moment. The server runs with
 * some permissions revoked (cli/launcher_watch.ts), so Deno checks every path it opens one
 * component at a time (a failing readlink each, then O_NOFOLLOW): an open of a segment costs ~8
 * system calls against one for the read, and delivery opens one or two per message. A handle
 * is kept `KEEP_MS` after it was opened, then closed (a timer closes idle ones, so a freed
 * segment's disk space is not held). Segments are write-once, so a kept handle never reads
 * other bytes than a new open would; an `.open` segment's handle stays good when its writer
 * seals it (a rename keeps the file).
 *
 * A freed segment must read as gone (null), as before. Only delivery's reads keep handles
 * (`keep`): they read messages with a unit still leased, whose segment no correct free takes
 * (the store keeps a segment while a unit of it is not done). Every other read (console, DSNs)
 * opens afresh and sees a free by any thread or process at once. `freeSegments` (recovery.ts)
 * forgets this thread's handle once the file is removed; one freed elsewhere is let go within
 * `KEEP_MS`.
 *
 * Talks to: the file system only.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { OPEN_SUFFIX, SEALED_SUFFIX, type SpoolRef } from "./segments.ts";

/** How long a read handle is kept after its open. */
export const KEEP_MS = 1_000;
/** Most handles kept per thread (a thread reads from few segments at a time). */
const MAX_KEPT = 16;

function openSegment(dir: string, segment: string): number | null {
  // Open first, then sealed: a writer renames .open to .seg, never back.
  for (const suffix of [OPEN_SUFFIX, SEALED_SUFFIX]) {
    try {
      return openSync(join(dir, segment + suffix), "r");
    } catch (error) {
      if ((error as { code?: string }).code !== "ENOENT") throw error;
    }
  }
  return null;
}

function readAt(fd: number, ref: SpoolRef): Uint8Array {
  const out = new Uint8Array(ref.length);
  for (let at = 0; at < ref.length;) {
    const n = readSync(fd, out, at, ref.length - at, ref.offset + at);
    if (n === 0) {
      throw new Error(
        `Cannot read spooled body in "${ref.segment}": ends at ${ref.offset + at}, expected ${
          ref.offset + ref.length
        }`,
      );
    }
    at += n;
  }
  return out;
}

/** One read with its own open and close (sees any free at once). */
function readOnce(dir: string, ref: SpoolRef): Uint8Array | null {
  const fd = openSegment(dir, ref.segment);
  if (fd === null) return null;
  try {
    return readAt(fd, ref);
  } finally {
    closeSync(fd);
  }
}

interface Kept {
  fd: number;
  openedAt: number;
}

/** One thread's kept read handles, by spool folder and segment. */
export class SegmentHandles {
  readonly #kept = new Map<string, Kept>();
  readonly #now: () => number;
  readonly #keepMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: { now?: () => number; keepMs?: number } = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#keepMs = options.keepMs ?? KEEP_MS;
  }

  /** Reads `length` bytes at `offset` of a segment (pread) through a kept handle; null: freed. */
  read(dir: string, ref: SpoolRef): Uint8Array | null {
    const key = join(dir, ref.segment);
    const fd = this.#handle(key, dir, ref.segment);
    if (fd === null) return null;
    try {
      return readAt(fd, ref);
    } catch (error) {
      this.#close(key);
      throw error;
    }
  }

  /** Closes the handle on a segment of `dir` (it was freed), or on all of `dir`'s. */
  forget(dir: string, segment?: string): void {
    if (segment !== undefined) return this.#close(join(dir, segment));
    const prefix = join(dir, "x").slice(0, -1);
    for (const key of [...this.#kept.keys()]) if (key.startsWith(prefix)) this.#close(key);
  }

  /** How many handles are open (tests). */
  get size(): number {
    return this.#kept.size;
  }

  #handle(key: string, dir: string, segment: string): number | null {
    const kept = this.#kept.get(key);
    if (kept) {
      if (this.#now() - kept.openedAt < this.#keepMs) return kept.fd;
      this.#close(key);
    }
    const fd = openSegment(dir, segment);
    if (fd === null) return null;
    if (this.#kept.size >= MAX_KEPT) this.#close(this.#kept.keys().next().value!);
    this.#kept.set(key, { fd, openedAt: this.#now() });
    this.#timer ??= this.#schedule();
    return fd;
  }

  #schedule(): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      const now = this.#now();
      for (const [key, kept] of [...this.#kept]) {
        if (now - kept.openedAt >= this.#keepMs) this.#close(key);
      }
      if (this.#kept.size > 0) this.#timer = this.#schedule();
    }, this.#keepMs);
    Deno.unrefTimer(timer);
    return timer;
  }

  #close(key: string): void {
    const kept = this.#kept.get(key);
    if (!kept) return;
    this.#kept.delete(key);
    try {
      closeSync(kept.fd);
    } catch { /* already closed */ }
    if (this.#kept.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** This thread's handles (module state: one per isolate, as the spool's writers are). */
export const segmentHandles = new SegmentHandles();

/**
 * Reads `length` bytes at `offset` of a segment; null when it was freed. `keep`: through this
 * thread's kept handle (delivery only: see the header). Positional reads
 * (pread: no shared file position) and synchronous, as node:sqlite's reads on the same thread
 * are: each async file call is a round trip through the runtime's thread pool. With the SQL row
 * skipped too, 10 µs CPU per 5 KB body and 32–39 per 100 KB, against 98–182 and 189–235 with
 * SQL and Deno's async open/seek/read (`deno run -A bench/spool_read.ts`, bench/RESULTS.md).
 */
export function readSegment(
  dir: string,
  ref: SpoolRef,
  options: { keep?: boolean } = {},
): Promise<Uint8Array | null> {
  try {
    return Promise.resolve(options.keep ? segmentHandles.read(dir, ref) : readOnce(dir, ref));
  } catch (error) {
    return Promise.reject(error);
  }
}
