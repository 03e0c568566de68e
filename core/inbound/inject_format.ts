/**
 * The inject format v1 (core/contracts/mod.ts, README "Inject queue"): one JSON document per
 * message, raw as given or composed from structured fields. Every channel that takes it (the
 * RabbitMQ inject queue, the REST API, `fastmta send --json`, the outbox table) validates it here
 * and builds the stored message with the same code; this module loads no broker code.
 */
import { newQueueId } from "../accept/mod.ts";
import { isMailboxAddress, traceHeader, type TraceSource } from "../mail/mod.ts";
import { INJECT_FORMAT_VERSION, type InjectMessage, type NewMessage } from "../contracts/mod.ts";
import type { Config } from "../config/mod.ts";
import { type IntakeConfig, intakeSection } from "../config/intake_schema.ts";
import { toCrlf } from "../line_ends.ts";
import { composeMessage } from "./compose.ts";
import { checkHeaderSection, type HeaderLimits, headerLimitsOf } from "./header_limits.ts";
import { composedHeaderProblem, metadataProblem, poolProblem } from "./inject_limits.ts";

/**
 * A parsed inject message, or why it cannot be accepted (`tooLarge`: because of its size, which
 * the HTTP API answers with 413 rather than 400).
 */
export type ParsedInject =
  | { ok: true; message: Omit<NewMessage, "id" | "receivedAt" | "body">; content: Content }
  | { ok: false; reason: string; tooLarge?: true };

type Content =
  | { kind: "raw"; bytes: Uint8Array }
  | { kind: "compose"; fields: Pick<InjectMessage, "subject" | "text" | "html" | "headers"> };

/** Limits an inject message must keep. */
export interface InjectLimits {
  maxSize: number;
  maxRecipients: number;
  /** Shape of `metadata`, header fields and lines; the `intake` defaults when absent. */
  intake?: IntakeConfig;
  /** Largest header section; `smtp.max_header_size`'s default when absent. */
  maxHeaderSize?: number;
}

const DEFAULT_INTAKE: IntakeConfig = intakeSection.parse({});
const DEFAULT_MAX_HEADER_SIZE = 1024 * 1024;
/** Longest envelope address: a path is at most 256 octets with its brackets (RFC 5321 §4.5.3.1.3). */
const MAX_ADDRESS_LENGTH = 254;

/** The limits every channel that takes the inject format applies, read from `config` now. */
export function injectLimitsOf(config: Pick<Config, "smtp" | "intake">): InjectLimits {
  return {
    maxSize: config.smtp.max_message_size,
    maxRecipients: config.smtp.max_recipients,
    intake: config.intake,
    maxHeaderSize: config.smtp.max_header_size,
  };
}

function headerLimits(limits: InjectLimits): HeaderLimits {
  return headerLimitsOf({
    smtp: { max_header_size: limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE },
    intake: limits.intake ?? DEFAULT_INTAKE,
  } as Pick<Config, "smtp" | "intake">);
}

/** How a value that is not a usable address is named in a reason (never stringified whole). */
function shown(value: unknown): string {
  if (typeof value !== "string") return `(${Array.isArray(value) ? "array" : typeof value})`;
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}

function addressProblem(address: unknown): string | null {
  if (typeof address !== "string" || !isMailboxAddress(address)) return "expected user@domain";
  if (address.length > MAX_ADDRESS_LENGTH) return `longer than ${MAX_ADDRESS_LENGTH} characters`;
  return null;
}

const HEADER_NAME = /^[!-9;-~]+$/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

function fail(reason: string): ParsedInject {
  return { ok: false, reason };
}

function tooLarge(reason: string): ParsedInject {
  return { ok: false, reason, tooLarge: true };
}

/**
 * The largest JSON document that can carry a message of `maxSize` bytes: base64 adds a third,
 * and the envelope and fields some more. Readers stop reading beyond it.
 */
export function maxInjectDocumentBytes(maxSize: number): number {
  return Math.ceil(maxSize * 1.4) + 65_536;
}

/** Validates an inject message body (JSON) against the v1 format. */
export function parseInject(content: Uint8Array, limits: InjectLimits): ParsedInject {
  if (content.byteLength > maxInjectDocumentBytes(limits.maxSize)) {
    return tooLarge(`message too large: ${content.byteLength} bytes`);
  }
  let data: InjectMessage;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(content));
  } catch (error) {
    return fail(`not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return fail("expected a JSON object");
  }
  // NUL in a stored text field is refused by PostgreSQL at insert (a retry would fail the same
  // way, for ever) and ends C strings elsewhere: refused here, naming the field.
  const nul = nulField(data);
  if (nul !== null) return fail(`invalid "${nul}": NUL characters are not allowed`);
  if (data.v !== undefined && data.v !== INJECT_FORMAT_VERSION) {
    return fail(`unknown format version "${data.v}": expected ${INJECT_FORMAT_VERSION}`);
  }
  if (typeof data.from !== "string" || (data.from !== "" && addressProblem(data.from))) {
    return fail(`invalid "from": expected an address or "" for the null sender`);
  }
  if (!Array.isArray(data.to) || data.to.length === 0) {
    return fail(`invalid "to": expected a non-empty array of addresses`);
  }
  if (data.to.length > limits.maxRecipients) {
    return fail(`too many recipients: ${data.to.length} (at most ${limits.maxRecipients})`);
  }
  for (const address of data.to) {
    const problem = addressProblem(address);
    // Never String(address): a nested array would be joined recursively.
    if (problem) return fail(`invalid recipient "${shown(address)}": ${problem}`);
  }
  const intake = limits.intake ?? DEFAULT_INTAKE;
  if (data.pool !== undefined && typeof data.pool !== "string") {
    return fail(`invalid "pool": expected a string`);
  }
  if (data.pool !== undefined && CONTROL.test(data.pool)) {
    return fail(`invalid "pool": control characters (CR, LF, …) are not allowed`);
  }
  if (data.pool !== undefined) {
    const problem = poolProblem(data.pool, intake);
    if (problem) return fail(problem);
  }
  if (
    data.priority !== undefined &&
    !(Number.isInteger(data.priority) && data.priority >= 0 && data.priority <= 9)
  ) {
    return fail(`invalid "priority": expected an integer from 0 to 9`);
  }
  if (
    data.metadata !== undefined &&
    (data.metadata === null || typeof data.metadata !== "object" || Array.isArray(data.metadata))
  ) {
    return fail(`invalid "metadata": expected an object`);
  }
  if (data.metadata !== undefined) {
    // Before anything recursive (structured clone to a worker) can ever see it.
    const problem = metadataProblem(data.metadata, intake);
    if (problem) return fail(problem);
  }
  const forms = [data.raw !== undefined, data.raw_base64 !== undefined].filter(Boolean).length;
  const structured = data.text !== undefined || data.html !== undefined;
  if (forms + (structured ? 1 : 0) !== 1) {
    return fail(`expected exactly one of "raw", "raw_base64", or "text"/"html"`);
  }
  let parsed: Content;
  if (data.raw !== undefined) {
    if (typeof data.raw !== "string" || data.raw.length === 0) {
      return fail(`invalid "raw": expected the message as a non-empty string`);
    }
    // Bare CR and bare LF become CRLF now, once: no next hop ever sees a bare CR from us.
    parsed = { kind: "raw", bytes: toCrlf(new TextEncoder().encode(data.raw)) };
  } else if (data.raw_base64 !== undefined) {
    try {
      if (typeof data.raw_base64 !== "string") throw new Error("not a string");
      parsed = {
        kind: "raw",
        bytes: toCrlf(Uint8Array.from(atob(data.raw_base64), (c) => c.charCodeAt(0))),
      };
    } catch (error) {
      return fail(`invalid "raw_base64": ${(error as Error).message}`);
    }
    if (parsed.bytes.byteLength === 0) return fail(`invalid "raw_base64": empty`);
  } else {
    for (const field of ["subject", "text", "html"] as const) {
      if (data[field] !== undefined && typeof data[field] !== "string") {
        return fail(`invalid "${field}": expected a string`);
      }
    }
    // A line break in a value that becomes a header line would start a header of its own.
    if (data.subject !== undefined && /[\r\n]/.test(data.subject)) {
      return fail(`invalid "subject": CR and LF are not allowed in a header value`);
    }
    if (data.headers !== undefined) {
      if (
        data.headers === null || typeof data.headers !== "object" || Array.isArray(data.headers)
      ) {
        return fail(`invalid "headers": expected an object of strings`);
      }
      for (const [name, value] of Object.entries(data.headers)) {
        if (!HEADER_NAME.test(name)) {
          return fail(
            `invalid "headers": ${JSON.stringify(shown(name))} is not a header name ` +
              `(printable ASCII, no ":")`,
          );
        }
        if (typeof value !== "string") return fail(`invalid "headers.${name}": expected a string`);
        if (/[\r\n]/.test(value)) {
          return fail(`invalid "headers.${name}": CR and LF are not allowed in a header value`);
        }
      }
    }
    const problem = composedHeaderProblem(data, headerLimits(limits));
    if (problem) return fail(problem);
    parsed = {
      kind: "compose",
      fields: { subject: data.subject, text: data.text, html: data.html, headers: data.headers },
    };
  }
  if (parsed.kind === "raw" && parsed.bytes.byteLength > limits.maxSize) {
    return tooLarge(
      `message too large: ${parsed.bytes.byteLength} bytes (at most ${limits.maxSize})`,
    );
  }
  if (parsed.kind === "raw") {
    const problem = checkHeaderSection(parsed.bytes, headerLimits(limits));
    if (problem) {
      return fail(`invalid "${data.raw !== undefined ? "raw" : "raw_base64"}": ${problem}`);
    }
  }
  const meta: Record<string, unknown> = {};
  if (data.pool !== undefined) meta.pool = data.pool;
  if (data.priority !== undefined) meta.priority = data.priority;
  if (data.metadata !== undefined) meta.metadata = data.metadata;
  return {
    ok: true,
    message: {
      sender: data.from,
      recipients: data.to,
      channel: "inject",
      clientIp: null,
      meta: Object.keys(meta).length > 0 ? meta : undefined,
    },
    content: parsed,
  };
}

/**
 * The message's own bytes: raw as given, or composed from the fields (with Message-ID
 * `<id@hostname>`). Channels that take the inject format (the queue, the HTTP API) share it.
 */
export function injectedContent(
  parsed: Extract<ParsedInject, { ok: true }>,
  options: { id: string; hostname: string; now: number; maxSize: number },
): Uint8Array {
  if (parsed.content.kind === "raw") return parsed.content.bytes;
  const composed = new TextEncoder().encode(composeMessage({
    from: parsed.message.sender,
    to: parsed.message.recipients,
    ...parsed.content.fields,
    messageId: `${options.id}@${options.hostname}`,
    date: new Date(options.now),
  }));
  // parseInject checked a raw message's size; a composed one's is only known now.
  if (composed.byteLength > options.maxSize) {
    throw new MessageTooLarge(
      `message too large: ${composed.byteLength} bytes (at most ${options.maxSize})`,
    );
  }
  return composed;
}

/** A composed message over `smtp.max_message_size`: refused, like a raw one would be. */
export class MessageTooLarge extends Error {}

/** `header` (our trace field, ending in CRLF) followed by the message. */
export function withTraceHeader(header: string, content: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(header);
  const full = new Uint8Array(head.byteLength + content.byteLength);
  full.set(head);
  full.set(content, head.byteLength);
  return full;
}

/** Builds the message accept takes: our `Received:` header, then the raw or composed message. */
export function injectedMessage(
  parsed: Extract<ParsedInject, { ok: true }>,
  options: { hostname: string; source: TraceSource; maxSize: number; now?: number },
): NewMessage {
  const now = options.now ?? Date.now();
  const id = newQueueId(now);
  const received = traceHeader({
    ...options.source,
    hostname: options.hostname,
    queueId: id,
    date: new Date(now),
  });
  const content = injectedContent(parsed, {
    id,
    hostname: options.hostname,
    now,
    maxSize: options.maxSize,
  });
  return { ...parsed.message, id, receivedAt: now, body: withTraceHeader(received, content) };
}

/** The path of the first key or string in `value` holding a NUL character, else null. */
function nulField(value: unknown, path = "", depth = 0): string | null {
  if (typeof value === "string") return value.includes("\0") ? path || "(document)" : null;
  if (value === null || typeof value !== "object" || depth > 64) return null;
  for (const [key, item] of Object.entries(value)) {
    const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (key.includes("\0")) return shown(at);
    const found = nulField(item, at, depth + 1);
    if (found !== null) return shown(found);
  }
  return null;
}
