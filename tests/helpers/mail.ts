/**
 * Reading messages in tests with npm `mailparser`, and the fields of a delivery-status report.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type ParsedMail, simpleParser } from "mailparser";

/** Parses a message; a message/delivery-status part stays an attachment (not folded into text). */
export function parseMail(bytes: Uint8Array): Promise<ParsedMail> {
  return simpleParser(
    Buffer.from(bytes),
    { keepDeliveryStatus: true } as Parameters<typeof simpleParser>[1],
  );
}

/**
 * Splits a message/delivery-status body into its blocks (per-message first, then one per
 * recipient), each a map of lower-cased field names to unfolded values.
 */
export function statusBlocks(text: string): Record<string, string>[] {
  return text.replace(/\r\n[ \t]+/g, " ").split(/\r?\n\r?\n/).filter((b) => b.trim()).map(
    (block) =>
      Object.fromEntries(
        block.split(/\r?\n/).map((line) => {
          const i = line.indexOf(":");
          return [line.slice(0, i).toLowerCase(), line.slice(i + 1).trim()];
        }),
      ),
  );
}
