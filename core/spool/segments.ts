/**
 * Append-only segment files: each body's bytes are written once, a batch in as few writes as its
 * size allows and one fdatasync, before the accept transaction that indexes them commits (so an
 * index row never points at bytes that are not durable). A writer owns one open segment (`<name>.open`) per
 * thread, so isolates never share a file, and holds an exclusive lock on it (flock) while it
 * lives; a full segment is sealed by renaming it to `<name>.seg`, and only sealed segments are
 * ever freed (recovery.ts).
 *
 * Talks to: the file system only. Reads no config (the store passes the folder).
 */
import { join } from "node:path";

/** A segment this size or larger is sealed before the next batch (64 MiB). */
export const SEGMENT_BYTES = 64 * 1024 * 1024;
/** The suffix of the segment a writer still appends to. */
export const OPEN_SUFFIX = ".open";
/** The suffix of a sealed segment: never appended to again. */
export const SEALED_SUFFIX = ".seg";
/** Most bytes a writer gathers into its staging buffer before a write (1 MiB). */
const STAGING_BYTES = 1024 * 1024;
/** A piece this large is written from where it is rather than staged (256 KiB). */
const DIRECT_BYTES = 256 * 1024;

/** One body: one buffer, or pieces in order (the SMTP engine's socket reads). */
export type BodyBytes = Uint8Array | readonly Uint8Array[];

/** Where one body's bytes are. */
export interface SpoolRef {
  segment: string;
  offset: number;
  length: number;
}

function newSegmentName(): string {
  // Time first so names sort by age; the random part keeps threads and processes apart.
  return `${Date.now().toString(36).padStart(9, "0")}-${crypto.randomUUID().slice(0, 13)}`;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
}

/** The appending side of one thread's spool. */
export class SegmentWriter {
  readonly dir: string;
  readonly #segmentBytes: number;
  #file: Deno.FsFile | null = null;
  #name = "";
  #size = 0;
  #staging: Uint8Array | null = null;
  // Batches of one thread are written one after another: offsets follow the file's end.
  #chain: Promise<unknown> = Promise.resolve();

  constructor(dir: string, options: { segmentBytes?: number } = {}) {
    this.dir = dir;
    this.#segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
  }

  /** Writes the bodies and makes them durable; resolves with where each one is. */
  append(bodies: BodyBytes[]): Promise<SpoolRef[]> {
    const run = this.#chain.then(() => this.#append(bodies));
    this.#chain = run.catch(() => {});
    return run;
  }

  async #append(bodies: BodyBytes[]): Promise<SpoolRef[]> {
    if (this.#file && this.#size >= this.#segmentBytes) await this.#seal();
    if (!this.#file) await this.#openNew();
    const file = this.#file!;
    const refs: SpoolRef[] = [];
    let total = 0;
    for (const body of bodies) {
      const length = body instanceof Uint8Array
        ? body.byteLength
        : body.reduce((n, piece) => n + piece.byteLength, 0);
      refs.push({ segment: this.#name, offset: this.#size + total, length });
      total += length;
    }
    try {
      await this.#write(file, bodies);
      await file.syncData();
    } catch (error) {
      // Where the file ends is unknown now: leave it to recovery and start a fresh segment.
      this.#drop();
      throw error;
    }
    this.#size += total;
    return refs;
  }

  /**
   * Writes the bodies' bytes in order. Small pieces (the SMTP engine's socket reads, whole
   * small bodies) are gathered in one staging buffer kept for the writer's life, large ones
   * written where they are: no joined copy of the batch is allocated (Deno's `writev` would
   * join one) and each write carries up to 1 MiB.
   */
  async #write(file: Deno.FsFile, bodies: BodyBytes[]): Promise<void> {
    let staged = 0;
    const flush = async () => {
      if (staged > 0) await writeAll(file, this.#staging!.subarray(0, staged));
      staged = 0;
    };
    for (const body of bodies) {
      for (const piece of body instanceof Uint8Array ? [body] : body) {
        if (piece.byteLength >= DIRECT_BYTES) {
          await flush();
          await writeAll(file, piece);
          continue;
        }
        if (staged + piece.byteLength > STAGING_BYTES) await flush();
        this.#staging ??= new Uint8Array(STAGING_BYTES);
        this.#staging.set(piece, staged);
        staged += piece.byteLength;
      }
    }
    await flush();
  }

  async #openNew(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    for (;;) {
      const name = newSegmentName();
      const file = await Deno.open(join(this.dir, name + OPEN_SUFFIX), {
        write: true,
        createNew: true,
        mode: 0o600,
      });
      // Held while this writer lives (the OS drops it with the process): recovery seals only
      // unlocked segments. Lost to a recovery that took the file first: start another one.
      // Not on Windows, where a lock is mandatory and would stop the readers of the segment.
      if (Deno.build.os === "windows" || await file.tryLock(true)) {
        [this.#file, this.#name, this.#size] = [file, name, 0];
        return;
      }
      file.close();
    }
  }

  #drop(): void {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = null;
  }

  async #seal(): Promise<void> {
    // Renamed while still locked: a recovery elsewhere never sees it open and unlocked.
    try {
      await Deno.rename(
        join(this.dir, this.#name + OPEN_SUFFIX),
        join(this.dir, this.#name + SEALED_SUFFIX),
      );
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    } finally {
      this.#drop();
    }
  }

  /** Seals the open segment (after the last batch) so it can be freed later. */
  close(): Promise<void> {
    const run = this.#chain.then(() => this.#file ? this.#seal() : undefined);
    this.#chain = run.catch(() => {});
    return run;
  }
}
