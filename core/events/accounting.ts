/**
 * The accounting log: every event as one JSON line, appended to `events.accounting.path`, like
 * PowerMTA's accounting files. The file is rotated when it reaches `rotate_size` bytes or is
 * `rotate_interval` old: renamed to `<path>.<UTC time>[-n]` (optionally gzipped to `….gz`) and a
 * new file started. One writer per node (the main thread's hub; workers hand their events to
 * it), and writes and rotations are serialized, so a rotation never splits or repeats a line:
 * every event is in exactly one file. A rotated file is gzipped to `.gz.tmp`, renamed to `.gz`
 * and only then removed, so a crash leaves the plain file or the `.gz`, never half of one.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { basename, dirname, join } from "node:path";
import type { FastmtaEvent } from "../contracts/events.ts";

/** The `events.accounting` settings the log uses. */
export interface AccountingOptions {
  path: string;
  /** Bytes; 0 never rotates by size. */
  rotate_size: number;
  /** Milliseconds; 0 never rotates by time. */
  rotate_interval: number;
  gzip: boolean;
  log?: (line: string) => void;
  /** The clock (tests). */
  now?: () => number;
}

const encoder = new TextEncoder();

/** See the module comment. */
export class AccountingLog {
  #o: AccountingOptions;
  #file: Deno.FsFile | null = null;
  #size = 0;
  #openedAt = 0;
  #chain: Promise<void> = Promise.resolve();
  #compressing = new Set<Promise<void>>();

  constructor(options: AccountingOptions) {
    this.#o = options;
  }

  /** Appends the events (one line each) after any write in progress; rotates first if due. */
  write(events: readonly FastmtaEvent[]): Promise<void> {
    return this.writeLines(events.map((e) => JSON.stringify(e)));
  }

  /** `write` for events already serialized (one JSON text each, without a newline). */
  writeLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return this.#chain;
    const text = lines.join("\n") + "\n";
    const next = this.#chain.then(() => this.#append(encoder.encode(text)));
    this.#chain = next.catch((error) => this.#o.log?.(`accounting: ${(error as Error).message}`));
    return next;
  }

  /** Rotates now (tests, or an operator's signal) after any write in progress. */
  rotate(): Promise<void> {
    const next = this.#chain.then(() => this.#rotate());
    this.#chain = next.catch((error) => this.#o.log?.(`accounting: ${(error as Error).message}`));
    return next;
  }

  /** Finishes writes and compressions, then closes the file. */
  async close(): Promise<void> {
    await this.#chain;
    await Promise.all(this.#compressing);
    this.#file?.close();
    this.#file = null;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  async #open() {
    await Deno.mkdir(dirname(this.#o.path), { recursive: true });
    this.#file = await Deno.open(this.#o.path, { append: true, create: true });
    const stat = await this.#file.stat();
    this.#size = stat.size;
    // A file left by an earlier run is as old as its first write (birthtime where known).
    this.#openedAt = stat.size > 0
      ? (stat.birthtime ?? stat.mtime)?.getTime() ?? this.#now()
      : this.#now();
  }

  async #append(bytes: Uint8Array) {
    if (!this.#file) await this.#open();
    if (this.#due(bytes.byteLength)) await this.#rotate();
    if (!this.#file) await this.#open();
    let written = 0;
    while (written < bytes.byteLength) written += await this.#file!.write(bytes.subarray(written));
    this.#size += bytes.byteLength;
  }

  #due(adding: number): boolean {
    if (this.#size === 0) return false;
    const { rotate_size, rotate_interval } = this.#o;
    if (rotate_size > 0 && this.#size + adding > rotate_size) return true;
    return rotate_interval > 0 && this.#now() - this.#openedAt >= rotate_interval;
  }

  async #rotate() {
    if (!this.#file) await this.#open();
    if (this.#size === 0) return;
    this.#file!.close();
    this.#file = null;
    const target = await this.#freeName();
    await Deno.rename(this.#o.path, target);
    await this.#open();
    if (this.#o.gzip) {
      const job = compress(target).catch((error) =>
        this.#o.log?.(`accounting: cannot gzip ${target}: ${(error as Error).message}`)
      );
      this.#compressing.add(job);
      job.finally(() => this.#compressing.delete(job));
    }
  }

  /** `<path>.<UTC time>`, with `-n` when taken (two rotations in one second). */
  async #freeName(): Promise<string> {
    const stamp = new Date(this.#now()).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    const base = `${this.#o.path}.${stamp}`;
    for (let n = 0;; n++) {
      const name = n === 0 ? base : `${base}-${n}`;
      if (!(await exists(name)) && !(await exists(`${name}.gz`))) return name;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Gzips `path` to `path.gz` (through `.gz.tmp`), then removes `path`. */
async function compress(path: string): Promise<void> {
  const tmp = `${path}.gz.tmp`;
  await pipeline(createReadStream(path), createGzip(), createWriteStream(tmp));
  await Deno.rename(tmp, `${path}.gz`);
  await Deno.remove(path);
}

/** The rotated files of `path` (plain and gzipped), oldest first: for tests and tools. */
export async function rotatedFiles(path: string): Promise<string[]> {
  const prefix = `${basename(path)}.`;
  const names: string[] = [];
  for await (const entry of Deno.readDir(dirname(path))) {
    if (entry.isFile && entry.name.startsWith(prefix) && !entry.name.endsWith(".tmp")) {
      names.push(join(dirname(path), entry.name));
    }
  }
  return names.sort();
}
