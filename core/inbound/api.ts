/**
 * The REST API inbound channel (`POST /api/v1/messages`, routes/api/send.ts): the request body
 * is an inject v1 document (core/inbound/inject.ts), validated with the same rules and limits as
 * the inject queue, and turned into the message core/accept takes: our `Received:` header, then
 * the raw or composed message. Relay is not checked: an API key may send anywhere, as an
 * authenticated SMTP user may.
 * Reads config: smtp.hostname, smtp.max_message_size, smtp.max_recipients, smtp.max_header_size,
 * intake.*.
 */
import type { Config } from "../config/mod.ts";
import { newQueueId } from "../accept/mod.ts";
import type { NewMessage } from "../contracts/mod.ts";
import {
  injectedContent,
  injectLimitsOf,
  MessageTooLarge,
  parseInject,
  withTraceHeader,
} from "./inject_format.ts";
import { receivedHeader } from "../mail/mod.ts";

/** Who sent a request. */
export interface ApiSender {
  /** Name of the API key that authenticated it. */
  keyName: string;
  /** The peer's IP address (a proxy's, behind one), when known. */
  clientIp: string | null;
}

/** The message to accept, or why the request cannot be accepted as it is. */
export type ApiMessageResult =
  | { kind: "message"; message: NewMessage }
  | { kind: "invalid"; reason: string }
  | { kind: "too_large"; reason: string };

/** Builds the message for one request body (the JSON document's bytes). */
export function apiMessage(
  document: Uint8Array,
  sender: ApiSender,
  options: { config: Config; now?: number },
): ApiMessageResult {
  const { smtp } = options.config;
  const parsed = parseInject(document, injectLimitsOf(options.config));
  if (!parsed.ok) {
    return { kind: parsed.tooLarge ? "too_large" : "invalid", reason: parsed.reason };
  }
  const now = options.now ?? Date.now();
  const id = newQueueId(now);
  let content: Uint8Array;
  try {
    content = injectedContent(parsed, {
      id,
      hostname: smtp.hostname,
      now,
      maxSize: smtp.max_message_size,
    });
  } catch (error) {
    if (error instanceof MessageTooLarge) return { kind: "too_large", reason: error.message };
    throw error;
  }
  const { recipients } = parsed.message;
  const received = receivedHeader({
    helo: null,
    clientIp: sender.clientIp ?? "unknown",
    hostname: smtp.hostname,
    protocol: "HTTP",
    queueId: id,
    recipient: recipients.length === 1 ? recipients[0] : null,
    tls: null,
    date: new Date(now),
  });
  return {
    kind: "message",
    message: {
      ...parsed.message,
      id,
      channel: "api",
      clientIp: sender.clientIp,
      receivedAt: now,
      body: withTraceHeader(received, content),
      meta: { ...parsed.message.meta, api_key: sender.keyName },
    },
  };
}
