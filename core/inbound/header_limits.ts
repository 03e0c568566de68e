/**
 * Limits on a message's header section, the same on every channel: its size
 * (`smtp.max_header_size`), its number of fields (`intake.max_header_fields`) and the length of
 * each line (`intake.max_header_line_length`, 998 octets by RFC 5322 §2.1.1). Scanned byte by
 * byte as the message arrives, so nothing is split into lines or parsed to know.
 * Reads config: smtp.max_header_size, intake.max_header_fields, intake.max_header_line_length.
 */
import type { Config } from "../config/mod.ts";

/** Limits a header section must keep. */
export interface HeaderLimits {
  /** Largest header section in bytes, its line ends included. */
  maxBytes: number;
  maxFields: number;
  /** Longest line in octets, without its CRLF. */
  maxLineLength: number;
}

/** Which limit a header section broke. */
export type HeaderProblem = "size" | "fields" | "line";

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;

/** The header limits of `config`, read now (they apply without a restart). */
export function headerLimitsOf(config: Pick<Config, "smtp" | "intake">): HeaderLimits {
  return {
    maxBytes: config.smtp.max_header_size,
    maxFields: config.intake.max_header_fields,
    maxLineLength: config.intake.max_header_line_length,
  };
}

/** What to tell the sender about a broken header limit (the config key is named). */
export function headerProblemText(problem: HeaderProblem, limits: HeaderLimits): string {
  switch (problem) {
    case "size":
      return `header section larger than ${limits.maxBytes} bytes (smtp.max_header_size)`;
    case "fields":
      return `more than ${limits.maxFields} header fields (intake.max_header_fields)`;
    case "line":
      return `header line longer than ${limits.maxLineLength} octets ` +
        `(intake.max_header_line_length)`;
  }
}

/** Watches the header section of a message given in chunks; the body is not looked at. */
export class HeaderScanner {
  #limits: HeaderLimits;
  #bytes = 0;
  #fields = 0;
  #lineLength = 0;
  /** The empty line that ends the header section has been seen. */
  done = false;
  /** The first limit broken; once set, nothing more is scanned. */
  problem: HeaderProblem | null = null;

  constructor(limits: HeaderLimits) {
    this.#limits = limits;
  }

  /** Bytes of the header section seen so far (its final empty line included once done). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Scans the next chunk of the message. */
  push(chunk: Uint8Array): void {
    if (this.done || this.problem) return;
    const { maxBytes, maxFields, maxLineLength } = this.#limits;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      this.#bytes++;
      if (byte === LF) {
        if (this.#lineLength === 0) {
          this.done = true;
          return;
        }
        this.#lineLength = 0;
      } else if (byte !== CR) {
        // A line that starts with white space continues the field before it (folding).
        if (this.#lineLength === 0 && byte !== SP && byte !== HTAB && ++this.#fields > maxFields) {
          this.problem = "fields";
          return;
        }
        if (++this.#lineLength > maxLineLength) {
          this.problem = "line";
          return;
        }
      }
      if (this.#bytes > maxBytes) {
        this.problem = "size";
        return;
      }
    }
  }
}

/** Why the header section of `message` breaks `limits`, or null when it keeps them. */
export function checkHeaderSection(message: Uint8Array, limits: HeaderLimits): string | null {
  const scanner = new HeaderScanner(limits);
  scanner.push(message);
  return scanner.problem === null ? null : headerProblemText(scanner.problem, limits);
}
