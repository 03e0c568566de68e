/**
 * The SMTP sink's replies: its defaults for each command, the reply code and wire form of a reply
 * (tests/helpers/smtp_sink.ts), and the path of MAIL FROM / RCPT TO.
 */
import type { SinkSession, SmtpSinkOptions } from "./smtp_sink_types.ts";

/** What the default replies depend on besides the session. */
export interface SinkReplySettings {
  ehloHostname: string;
  extensions: string[];
  maxMessageSize: number;
  starttls: SmtpSinkOptions["starttls"];
}

/** A reply ("code text", lines separated by LF) with CRLF line ends, for the wire. */
export function formatReply(reply: string): string {
  return reply.replace(/\r?\n$/, "").split(/\r?\n/).map((l) => l + "\r\n").join("");
}

/** The reply's three-digit code (0 if it has none). */
export function replyCode(reply: string): number {
  return Number.parseInt(reply.slice(0, 3), 10) || 0;
}

/** The path and parameters of `FROM:<path> params` / `TO:<path> params`; null if malformed. */
export function parsePath(
  arg: string,
  keyword: "FROM" | "TO",
): { path: string; params: string[] } | null {
  const re = new RegExp(`^${keyword}:\\s*(?:<([^>]*)>|(\\S+))\\s*(.*)$`, "i");
  const m = arg.match(re);
  if (!m) return null;
  const params = m[3].trim() === "" ? [] : m[3].trim().split(/\s+/);
  return { path: m[1] ?? m[2] ?? "", params };
}

/** The sink's own reply to a command the reply hook left alone. */
export function defaultReply(
  verb: string,
  arg: string,
  session: SinkSession,
  settings: SinkReplySettings,
): string {
  switch (verb) {
    case "EHLO": {
      if (!arg) return "501 5.5.4 Syntax: EHLO hostname";
      const ext = [...settings.extensions];
      if (settings.starttls && !session.tls) ext.push("STARTTLS");
      const lines = [`${settings.ehloHostname} greets ${arg}`, ...ext];
      return lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}`).join("\n");
    }
    case "HELO":
      return arg ? `250 ${settings.ehloHostname}` : "501 5.5.4 Syntax: HELO hostname";
    case "MAIL": {
      if (!session.helo) return "503 5.5.1 Error: send HELO/EHLO first";
      if (session.mailFrom !== null) return "503 5.5.1 Error: nested MAIL command";
      const p = parsePath(arg, "FROM");
      if (!p) return "501 5.5.4 Syntax: MAIL FROM:<address>";
      const sizeParam = p.params.find((x) => /^SIZE=/i.test(x));
      if (sizeParam && Number(sizeParam.slice(5)) > settings.maxMessageSize) {
        return "552 5.3.4 Message size exceeds fixed limit";
      }
      return "250 2.1.0 Ok";
    }
    case "RCPT":
      if (session.mailFrom === null) return "503 5.5.1 Error: need MAIL command";
      if (!parsePath(arg, "TO")) return "501 5.5.4 Syntax: RCPT TO:<address>";
      return "250 2.1.5 Ok";
    case "DATA":
      if (session.mailFrom === null) return "503 5.5.1 Error: need MAIL command";
      if (session.rcptTo.length === 0) return "554 5.5.1 Error: no valid recipients";
      return "354 End data with <CR><LF>.<CR><LF>";
    case "RSET":
      return "250 2.0.0 Ok";
    case "NOOP":
      return "250 2.0.0 Ok";
    case "QUIT":
      return "221 2.0.0 Bye";
    case "VRFY":
      return "252 2.0.0 Cannot VRFY user";
    case "STARTTLS":
      if (!settings.starttls) return "502 5.5.1 Error: command not implemented";
      if (session.tls) return "503 5.5.1 Error: TLS already active";
      return "220 2.0.0 Ready to start TLS";
    default:
      return "500 5.5.2 Error: command not recognized";
  }
}
