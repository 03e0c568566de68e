/**
 * The session object the own SMTP engine hands to every handler, in npm `smtp-server`'s shape
 * (the fields core/inbound/smtp_session.ts and smtp_message.ts read), and its reset at each new
 * transaction.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { SMTPServerSession } from "smtp-server";

/** What the session's derived fields come from. */
export interface SessionFacts {
  openingCommand: string | false;
  hostNameAppearsAs: string | false;
  secure: boolean;
  transactions: number;
  session: SMTPServerSession;
}

/** An address as the handlers see it: no IPv4-mapped prefix, IPv6 in its short form. */
function normalizeIp(address: string | undefined): string {
  const ip = (address ?? "").replace(/^::ffff:/i, "").toLowerCase();
  if (!ip.includes(":")) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/**
 * The session of a new connection on `socket` (no reverse lookup: the name is the IP). The local
 * end is read on first use, from the connection's socket then (`current`, the TLS one after
 * STARTTLS): nothing on the hot path reads it, and each read is a getsockname system call.
 */
export function newSession(
  socket: Socket,
  secure: boolean,
  current: () => Socket = () => socket,
): SMTPServerSession {
  const remoteAddress = normalizeIp(socket.remoteAddress);
  let local: { address: string; port: number } | undefined;
  const localEnd = () =>
    local ??= { address: normalizeIp(current().localAddress), port: current().localPort ?? 0 };
  return {
    id: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
    get localAddress() {
      return localEnd().address;
    },
    get localPort() {
      return localEnd().port;
    },
    remoteAddress,
    remotePort: socket.remotePort ?? 0,
    clientHostname: `[${remoteAddress}]`,
    openingCommand: false,
    hostNameAppearsAs: false,
    secure,
    tlsOptions: secure ? (socket as TLSSocket).getCipher?.() : false,
  } as unknown as SMTPServerSession;
}

/** "ESMTP", "SMTP" with S for TLS and A for AUTH (RFC 3848), as `Received:` shows it. */
export function transmissionType(facts: SessionFacts): string {
  return (facts.openingCommand === "EHLO" ? "ESMTP" : "SMTP") + (facts.secure ? "S" : "") +
    (facts.session.user ? "A" : "");
}

/** A new, empty transaction (EHLO, RSET, after DATA, after STARTTLS). */
export function resetSession(session: SMTPServerSession, facts: SessionFacts): void {
  const s = session as SMTPServerSession & Record<string, unknown>;
  s.openingCommand = facts.openingCommand as string;
  s.hostNameAppearsAs = facts.hostNameAppearsAs as string;
  s.transmissionType = transmissionType(facts);
  s.envelope = {
    mailFrom: false,
    rcptTo: [],
    requireTLS: false,
    bodyType: "7bit",
    smtpUtf8: false,
    dsn: { ret: null, envid: null },
  };
  s.transaction = facts.transactions + 1;
}
