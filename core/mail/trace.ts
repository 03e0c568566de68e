/**
 * Trace headers (RFC 5321 §4.4): the `Received:` line every channel prepends to what it
 * accepts, so that each says where a message came from in the same form.
 */
import { rfc5322Date } from "./date.ts";

/** What goes into a `Received:` header. */
export interface ReceivedInfo {
  helo: string | null;
  clientIp: string;
  hostname: string;
  /** ESMTP, ESMTPS, ESMTPSA, … (RFC 3848). */
  protocol: string;
  queueId: string;
  /** Only given for single-recipient messages (RFC 5321 §4.4 allows it; more would leak). */
  recipient: string | null;
  tls: { version: string; cipher: string } | null;
  date: Date;
}

function addressLiteral(ip: string): string {
  return ip.includes(":") ? `IPv6:${ip}` : ip;
}

/** Where a message came from, for its `Received:` header: `from <from> … with <protocol>`. */
export interface TraceSource {
  /** e.g. `client.example (unknown [192.0.2.1])`, `fastmta.inject (AMQP)`, `outbox (row 7)`. */
  from: string;
  /** ESMTP, HTTP, AMQP, SQL, local, … */
  protocol: string;
}

/** A `Received:` trace header (RFC 5321 §4.4), folded, ending in CRLF; every channel's. */
export function traceHeader(
  info: TraceSource & { hostname: string; queueId: string; recipient?: string | null; date: Date },
): string {
  const by = `by ${info.hostname} (fastmta) with ${info.protocol} id ${info.queueId}`;
  const forPart = info.recipient ? `\r\n\tfor <${info.recipient}>` : "";
  return `Received: from ${info.from}\r\n\t${by}${forPart};\r\n\t${rfc5322Date(info.date)}\r\n`;
}

/** The `Received:` header for a message from a network client (SMTP, HTTP). */
export function receivedHeader(info: ReceivedInfo): string {
  const tls = info.tls ? `\r\n\t(using ${info.tls.version} with cipher ${info.tls.cipher})` : "";
  return traceHeader({
    ...info,
    from: `${info.helo || "unknown"} (unknown [${addressLiteral(info.clientIp)}])${tls}`,
  });
}
