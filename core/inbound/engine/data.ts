/**
 * The DATA stream the own SMTP engine hands to onData: a light emitter instead of a Readable.
 *
 * @module
 */
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
