/**
 * One DATA of the own SMTP engine: the stream handed to onData (a light emitter instead of a
 * Readable), the reader that finds its end in the socket's reads (dot_reader.ts), the size
 * limit, and the reply once the handler answered.
 *
 * @module
 */
import { DotReader } from "./dot_reader.ts";
import type { CodeChoice } from "./replies.ts";
import type { DataSource } from "./types.ts";

/** The DATA stream handed to onData: "data" parts, then "end", or "error". */
export class Data implements DataSource {
  sizeExceeded = false;
  byteLength = 0;
  #listeners: Record<string, ((arg: never) => void)[]> = {};
  on(event: string, listener: (arg: never) => void): this {
    (this.#listeners[event] ??= []).push(listener);
    return this;
  }
  emit(event: string, arg?: unknown): void {
    for (const listener of this.#listeners[event] ?? []) listener(arg as never);
  }
}

/** A reply: code, text and how it picks its enhanced code. */
export interface Reply {
  code: number;
  text: string;
  choice?: CodeChoice;
}

/** One message being received: its stream, its reader, and the handler's answer once given. */
export class DataTransfer {
  readonly source = new Data();
  readonly reader: DotReader;
  /** What onData called back with (null until it did). */
  result: { error?: Error | null; message?: unknown } | null = null;

  /** `size`: the largest message in bytes (0: no limit); parts over it are not handed on. */
  constructor(private readonly size: number) {
    const data = this.source;
    this.reader = new DotReader((part) => {
      if (data.sizeExceeded) return;
      data.byteLength += part.length;
      if (size && data.byteLength > size) data.sizeExceeded = true;
      data.emit("data", part);
    });
  }

  /** The reply to the message, once `result` is set: 552 over the size, the error, or 250. */
  reply(): Reply {
    const { error, message } = this.result!;
    const size = this.size;
    if (size && this.source.byteLength > size) {
      return {
        code: 552,
        text: `Error: message exceeds fixed maximum message size ${size}`,
        choice: "MESSAGE_TOO_BIG",
      };
    }
    if (error) {
      return {
        code: (error as { responseCode?: number }).responseCode || 450,
        text: error.message,
      };
    }
    return {
      code: 250,
      text: typeof message === "string" ? message : "OK: message queued",
      choice: "DATA_OK",
    };
  }
}
