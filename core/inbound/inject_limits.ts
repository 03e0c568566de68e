/**
 * The door limits of the inject format (core/inbound/inject_format.ts), apart from its syntax:
 * the shape of `metadata` (depth, keys, strings, size: `intake.*`), the `pool` name, and for a
 * composed message the header fields it will get (count, line length, section size), each
 * refused with the field that breaks it. A raw message's header section is checked by
 * core/inbound/header_limits.ts like any other channel's.
 * Reads config: intake.*, smtp.max_header_size (through the limits passed in).
 */
import { checkJsonShape } from "../json_shape.ts";
import type { IntakeConfig } from "../config/intake_schema.ts";
import type { HeaderLimits } from "./header_limits.ts";
import { encodeHeaderValue } from "./compose.ts";

/**
 * Header fields composeMessage may add besides the document's `headers` (From, To, Subject,
 * Date, Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding), kept free in the
 * field count.
 */
export const COMPOSED_FIELDS = 8;

/** Why `metadata` breaks the `intake` limits, as a reason naming the field; null if it keeps them. */
export function metadataProblem(metadata: unknown, intake: IntakeConfig): string | null {
  const problem = checkJsonShape(metadata, {
    maxDepth: intake.max_json_depth,
    maxKeys: intake.max_json_keys,
    maxStringBytes: intake.max_string_size,
    maxBytes: intake.max_metadata_size,
  }, "metadata");
  return problem === null ? null : `invalid ${quotePath(problem)}`;
}

/** `metadata.a: nested…` → `"metadata.a": nested…` (the style of the format's other reasons). */
function quotePath(problem: string): string {
  const colon = problem.indexOf(": ");
  return `"${problem.slice(0, colon)}"${problem.slice(colon)}`;
}

/** Why a `pool` name is unusable, or null. */
export function poolProblem(pool: string, intake: IntakeConfig): string | null {
  return new TextEncoder().encode(pool).byteLength > intake.max_string_size
    ? `invalid "pool": longer than ${intake.max_string_size} bytes (intake.max_string_size)`
    : null;
}

function longestLine(text: string): number {
  let longest = 0;
  for (const line of text.split("\r\n")) longest = Math.max(longest, line.length);
  return longest;
}

/**
 * Why the header fields of a message composed from `subject` and `headers` would break
 * `limits`, or null. Values are measured as composeMessage writes them (RFC 2047 words for
 * anything not plain ASCII, which are folded and so never make a long line).
 */
export function composedHeaderProblem(
  fields: { from: string; to: string[]; subject?: string; headers?: Record<string, string> },
  limits: HeaderLimits,
): string | null {
  const entries = Object.entries(fields.headers ?? {});
  if (entries.length + COMPOSED_FIELDS > limits.maxFields) {
    return `invalid "headers": more than ${limits.maxFields - COMPOSED_FIELDS} fields ` +
      `(intake.max_header_fields is ${limits.maxFields}, ${COMPOSED_FIELDS} kept for ours)`;
  }
  const labelled = entries.map(([name, value]) => ({ field: `headers.${name}`, name, value }));
  if (fields.subject !== undefined) {
    labelled.push({ field: "subject", name: "Subject", value: fields.subject });
  }
  // From, To (folded, "<address>, " each), Date, Message-ID, MIME and content fields.
  let size = fields.from.length + fields.to.reduce((sum, a) => sum + a.length + 5, 0) + 400;
  for (const { field, name, value } of labelled) {
    // Encoded words and names are ASCII, so characters are octets here.
    const line = `${name}: ${encodeHeaderValue(value)}`;
    size += line.length + 2;
    if (longestLine(line) > limits.maxLineLength) {
      return `invalid "${field}": header line longer than ${limits.maxLineLength} octets ` +
        `(intake.max_header_line_length)`;
    }
  }
  if (size > limits.maxBytes) {
    return `invalid "headers": header section larger than ${limits.maxBytes} bytes ` +
      `(smtp.max_header_size)`;
  }
  return null;
}
