/**
 * The inject queue: applications publish JSON `InjectMessage`s (core/queue/contracts.ts, README
 * "Inject queue") to `<prefix>.inject` on RabbitMQ. Each is validated, turned into a message
 * (raw as given, or composed from structured fields), and handed to core/accept like any other
 * channel; it is acked only once accept says it is durable (SQL commit + broker confirm). One
 * that cannot be accepted as it is goes to `<prefix>.inject.dead` with the reason in the
 * `x-fastmta-error` header, then is acked. A temporary failure (database or broker) leaves it in
 * the queue to be tried again.
 *
 * Trust: whoever may publish to the queue may send anywhere (no relay check); guard the vhost's
 * permissions. Talks to: RabbitMQ, core/accept. Reads config: rabbitmq.*, smtp.hostname,
 * smtp.max_message_size, smtp.max_recipients.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import type { Config } from "../config/mod.ts";
import { type Acceptor, newQueueId } from "../accept/mod.ts";
import { isMailboxAddress } from "../address.ts";
import {
  INJECT_ERROR_HEADER,
  INJECT_FORMAT_VERSION,
  type InjectMessage,
  type NewMessage,
} from "../queue/contracts.ts";
import {
  BrokerLink,
  brokerSettings,
  openConfirmChannel,
  publishConfirmed,
} from "../queue/broker.ts";
import { composeMessage } from "./compose.ts";
import { rfc5322Date } from "./message.ts";

/** Unacknowledged inject messages per node (they form the accept batches). */
const INJECT_PREFETCH = 200;
/** Wait before a message that failed for a temporary reason is tried again. */
const RETRY_DELAY_MS = 1_000;

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
}

const HEADER_NAME = /^[!-9;-~]+$/;

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
  if (data.v !== undefined && data.v !== INJECT_FORMAT_VERSION) {
    return fail(`unknown format version "${data.v}": expected ${INJECT_FORMAT_VERSION}`);
  }
  if (typeof data.from !== "string" || (data.from !== "" && !isMailboxAddress(data.from))) {
    return fail(`invalid "from": expected an address or "" for the null sender`);
  }
  if (!Array.isArray(data.to) || data.to.length === 0) {
    return fail(`invalid "to": expected a non-empty array of addresses`);
  }
  if (data.to.length > limits.maxRecipients) {
    return fail(`too many recipients: ${data.to.length} (at most ${limits.maxRecipients})`);
  }
  for (const address of data.to) {
    if (typeof address !== "string" || !isMailboxAddress(address)) {
      return fail(`invalid recipient "${String(address)}"`);
    }
  }
  if (data.pool !== undefined && typeof data.pool !== "string") {
    return fail(`invalid "pool": expected a string`);
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
    parsed = { kind: "raw", bytes: new TextEncoder().encode(data.raw) };
  } else if (data.raw_base64 !== undefined) {
    try {
      if (typeof data.raw_base64 !== "string") throw new Error("not a string");
      parsed = {
        kind: "raw",
        bytes: Uint8Array.from(atob(data.raw_base64), (c) => c.charCodeAt(0)),
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
    if (data.headers !== undefined) {
      if (data.headers === null || typeof data.headers !== "object") {
        return fail(`invalid "headers": expected an object of strings`);
      }
      for (const [name, value] of Object.entries(data.headers)) {
        if (!HEADER_NAME.test(name) || typeof value !== "string" || /[\r\n]/.test(value)) {
          return fail(`invalid header "${name}"`);
        }
      }
    }
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
  options: { hostname: string; queue: string; maxSize: number; now?: number },
): NewMessage {
  const now = options.now ?? Date.now();
  const id = newQueueId(now);
  const received = `Received: from ${options.queue} (AMQP)\r\n\tby ${options.hostname} (fastmta)` +
    ` with AMQP id ${id};\r\n\t${rfc5322Date(new Date(now))}\r\n`;
  const content = injectedContent(parsed, {
    id,
    hostname: options.hostname,
    now,
    maxSize: options.maxSize,
  });
  return { ...parsed.message, id, receivedAt: now, body: withTraceHeader(received, content) };
}

/** A running inject consumer. */
export interface InjectConsumer {
  close(): Promise<void>;
}

/** Consumes the inject queue into `acceptor` until closed. */
export async function startInjectConsumer(
  config: Config,
  acceptor: Acceptor,
  log: (line: string) => void,
): Promise<InjectConsumer> {
  const settings = brokerSettings(config);
  if (!settings) throw new Error("Cannot consume the inject queue: no rabbitmq configured");
  const { names } = settings;
  const limits = () => ({
    maxSize: config.smtp.max_message_size,
    maxRecipients: config.smtp.max_recipients,
  });
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const handle = async (
    ch: Channel,
    dead: Awaited<ReturnType<typeof openConfirmChannel>>,
    msg: ConsumeMessage,
  ) => {
    const parsed = parseInject(msg.content, limits());
    let message: NewMessage | null = null;
    let refusal = parsed.ok ? null : parsed.reason;
    if (parsed.ok) {
      try {
        message = injectedMessage(parsed, {
          hostname: config.smtp.hostname,
          queue: names.injectQueue,
          maxSize: config.smtp.max_message_size,
        });
      } catch (error) {
        // Trying it again would compose the same: it goes where unacceptable messages go.
        refusal = (error as Error).message;
      }
    }
    if (message === null) {
      try {
        await publishConfirmed(dead, "", names.injectDeadQueue, msg.content, {
          contentType: msg.properties.contentType ?? "application/json",
          messageId: msg.properties.messageId,
          headers: {
            ...(msg.properties.headers ?? {}),
            [INJECT_ERROR_HEADER]: refusal ?? "cannot be accepted",
            "x-fastmta-rejected-at": new Date().toISOString(),
          },
        });
        ch.ack(msg);
        log(`inject: dead-lettered a message: ${refusal}`);
      } catch (error) {
        log(`inject: cannot dead-letter a message: ${(error as Error).message}`);
      }
      return;
    }
    try {
      await acceptor.submit(message);
    } catch (error) {
      log(`inject: cannot accept ${message.id} yet: ${(error as Error).message}`);
      const timer = setTimeout(() => {
        timers.delete(timer);
        try {
          ch.nack(msg, false, true);
        } catch {
          // The channel is gone: the broker requeued it already.
        }
      }, RETRY_DELAY_MS);
      timers.add(timer);
      return;
    }
    try {
      ch.ack(msg);
    } catch {
      // The connection broke after accept: the broker delivers it again, and it is accepted
      // twice (at-least-once; the README says how to deduplicate).
    }
  };

  const link = new BrokerLink(settings, {
    name: `fastmta ${config.nodeId} inject`,
    log: (line) => log(`inject: ${line}`),
    setup: async (model) => {
      const ch = await model.createChannel();
      ch.on("error", () => {});
      const dead = await openConfirmChannel(model);
      await ch.prefetch(INJECT_PREFETCH);
      await ch.consume(names.injectQueue, (msg) => {
        if (msg) handle(ch, dead, msg).catch((e) => log(`inject: ${(e as Error).stack}`));
      }, { noAck: false });
    },
  });
  await link.start();
  return {
    async close() {
      for (const timer of timers) clearTimeout(timer);
      await link.close();
    },
  };
}
