/**
 * The values the outbound SMTP client hands back and takes: replies, connection and TLS errors,
 * and the options for opening a connection and STARTTLS. Kept apart from the client so callers
 * that only read replies (transactions, source loop) need not see the socket code.
 */

/** One SMTP reply (possibly multi-line). */
export interface Reply {
  code: number;
  /** The text of all lines joined with a space, without codes. */
  text: string;
  lines: string[];
}

/** Formats a reply for logs and the database: "550 5.1.1 No such user". */
export function formatReply(reply: Reply): string {
  return `${reply.code} ${reply.text}`.trim();
}

/** A failure of the connection itself (not an SMTP reply): try another host, or defer. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

/** The TLS handshake failed or the certificate was refused; the connection is gone. */
export class TlsError extends ConnectionError {
  override name = "TlsError";
}

/** What a completed STARTTLS gave us. */
export interface TlsInfo {
  protocol: string;
  cipher: string;
  /** The certificate chain and name were verified. */
  verified: boolean;
}

/** Options for STARTTLS. */
export interface StartTlsOptions {
  /** The name to send (SNI) and to check the certificate against (the MX host name). */
  servername: string;
  /** Refuse a certificate that does not verify (chain and name). */
  verify: boolean;
  /** Trusted CAs (default: Node's bundled roots). */
  ca?: string[];
}

/** Options for opening a connection. */
export interface OpenOptions {
  host: string;
  port: number;
  localAddress?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The per-recipient and final replies of one mail transaction. */
export interface TransactionResult {
  mail: Reply;
  rcpt: Reply[];
  /** Final reply after the body, or the DATA command's reply if it was refused; null if not sent. */
  data: Reply | null;
}
