/**
 * The SMTP commands of the own engine (RFC 5321 with ESMTP PIPELINING, SIZE, 8BITMIME,
 * SMTPUTF8, DSN, ENHANCEDSTATUSCODES, STARTTLS, AUTH): each checks its place in the session,
 * calls the channel's handler where there is one and answers. Reply texts are npm
 * `smtp-server`'s, which clients and our tests read. There is no BDAT: smtp-server offered no
 * CHUNKING either.
 *
 * @module
 */
import type { SMTPServerAddress } from "smtp-server";
import { invalidParams, mailParams, parsePath, rcptParams, type Refusal } from "./address.ts";
import type { CommandTarget as Connection, EngineOptions } from "./types.ts";
import { MECHANISMS, startAuth } from "./sasl.ts";
import { constantReply, firstOfLines, formatReply } from "./replies.ts";

type Command = (c: Connection, line: string, args: string[]) => void;

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1F\x7F-\x9F]/;
const HTTP = /^(OPTIONS|GET|HEAD|POST|PUT|DELETE|TRACE|CONNECT) \/.* HTTP\/\d\.\d$/i;
const HTTP_VERBS = new Set(["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "CONNECT"]);
const NEEDS_HELO = new Set(["MAIL", "RCPT", "DATA", "AUTH"]);
/** Commands that read their arguments; the others (MAIL, RCPT: the line) get none split off. */
const TAKES_ARGS = new Set(["EHLO", "HELO", "VRFY", "STARTTLS", "AUTH"]);
const NO_ARGS: string[] = [];
const MAX_UNRECOGNIZED = 10;
const BYE = constantReply(221, "Bye");
const MAIL_ACCEPTED = constantReply(250, "Accepted", "MAIL_FROM_OK");
const RCPT_ACCEPTED = constantReply(250, "Accepted", "RCPT_TO_OK");

function refuse(c: Connection, r: Refusal): void {
  c.send(r.code, r.text, r.choice);
}

function hello(c: Connection, verb: "EHLO" | "HELO", args: string[]): boolean {
  if (args.length !== 1) {
    c.send(
      501,
      verb === "EHLO" ? "Error: syntax: EHLO hostname" : "Error: Syntax: HELO hostname",
      "none",
    );
    return false;
  }
  if (args[0].length > 300 || CONTROL.test(args[0])) {
    c.send(501, "Error: Bad hostname syntax", "none");
    return false;
  }
  c.hostNameAppearsAs = args[0].toLowerCase();
  c.resetSession();
  return true;
}

function greeting(c: Connection): string {
  return `${c.name} Nice to meet you, ${c.session.clientHostname}`;
}

/** EHLO's lines after the greeting, formatted once per listener and what a session is offered. */
const EHLO_FEATURES = new WeakMap<EngineOptions, Map<number, string>>();

function ehloFeatures(c: Connection): string {
  const { options } = c.host;
  const auth = options.authMethods.length > 0 && c.isSupported("AUTH") && !c.session.user;
  const startTls = !c.secure && c.isSupported("STARTTLS");
  const key = (auth ? 1 : 0) | (startTls ? 2 : 0);
  let byKey = EHLO_FEATURES.get(options);
  if (!byKey) EHLO_FEATURES.set(options, byKey = new Map());
  let wire = byKey.get(key);
  if (wire === undefined) {
    const features = ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"];
    if (auth) features.push(["AUTH", ...options.authMethods].join(" "));
    if (startTls) features.push("STARTTLS");
    if (options.size) features.push(`SIZE ${options.size}`);
    // The whole reply with an empty first line, that line cut: the greeting's goes there.
    wire = formatReply(250, ["", ...features], "none").slice(firstOfLines(250, "").length);
    byKey.set(key, wire);
  }
  return wire;
}

const COMMANDS: Record<string, Command> = {
  EHLO(c, _line, args) {
    if (!hello(c, "EHLO", args)) return;
    c.sendFormatted({ code: 250, wire: firstOfLines(250, greeting(c)) + ehloFeatures(c) });
  },
  HELO(c, _line, args) {
    if (hello(c, "HELO", args)) c.send(250, greeting(c), "none");
  },
  QUIT(c) {
    c.sendFormatted(BYE);
    c.quit();
  },
  NOOP(c) {
    c.send(250, "OK");
  },
  RSET(c) {
    c.resetSession();
    c.send(250, "Flushed");
  },
  HELP(c) {
    c.send(214, "See https://tools.ietf.org/html/rfc5321 for details");
  },
  VRFY(c, _line, args) {
    if (!args[0]) return c.send(501, "Error: Syntax: VRFY address");
    c.send(252, "Try to send something. No promises though");
  },
  STARTTLS(c, _line, args) {
    if (args.length > 0) return c.send(501, "Error: syntax: STARTTLS");
    if (c.secure) return c.send(503, "Error: TLS already active");
    c.startTls();
  },
  AUTH(c, _line, args) {
    const { options } = c.host;
    const method = (args[0] ?? "").toUpperCase();
    if (!c.secure && c.isSupported("STARTTLS") && !options.allowInsecureAuth) {
      return c.send(538, "Error: Must issue a STARTTLS command first");
    }
    if (c.session.user) return c.send(503, "Error: No identity changes permitted");
    if (!options.authMethods.includes(method) || !MECHANISMS.includes(method)) {
      return c.send(504, "Error: Unrecognized authentication type");
    }
    const done = c.wait();
    startAuth(
      {
        name: c.name,
        session: c.session,
        send: (code, text) => c.send(code, text),
        expect: (next) => c.next = next,
        onAuth: c.host.handlers.onAuth,
        authenticated: (user) => {
          c.session.user = user as string;
          c.session.transmissionType = c.transmissionType();
        },
      },
      method,
      args.slice(1),
      done,
    );
  },
  MAIL(c, line) {
    const parsed = parsePath("MAIL FROM", line);
    if (!parsed) return c.send(501, "Error: Bad sender address syntax", "SENDER_SYNTAX_ERROR");
    const invalid = invalidParams(parsed, "MAIL");
    if (invalid) return refuse(c, invalid);
    const envelope = c.session.envelope;
    if (envelope.mailFrom) return c.send(503, "Error: nested MAIL command");
    const params = mailParams(parsed, { size: c.host.options.size, secure: c.secure });
    if ("code" in params) return refuse(c, params);
    if (params.bodyType) envelope.bodyType = params.bodyType;
    if (params.smtpUtf8) envelope.smtpUtf8 = true;
    if (params.requireTLS) envelope.requireTLS = true;
    if (params.ret) envelope.dsn!.ret = params.ret;
    if (params.envid) envelope.dsn!.envid = params.envid;
    const done = c.wait();
    c.host.handlers.onMailFrom(parsed, c.session, (error) => {
      if (error) {
        c.send((error as { responseCode?: number }).responseCode || 550, error.message);
      } else {
        c.session.envelope.mailFrom = parsed;
        c.sendFormatted(MAIL_ACCEPTED);
      }
      done();
    });
  },
  RCPT(c, line) {
    const parsed = parsePath("RCPT TO", line) as SMTPServerAddress & { duplicate?: string };
    if (!parsed || !parsed.address) {
      return c.send(501, "Error: Bad recipient address syntax", "MAILBOX_SYNTAX_ERROR");
    }
    const invalid = invalidParams(parsed, "RCPT");
    if (invalid) return refuse(c, invalid);
    if (!c.session.envelope.mailFrom) return c.send(503, "Error: need MAIL command");
    const bad = rcptParams(parsed);
    if (bad) return refuse(c, bad);
    const done = c.wait();
    c.host.handlers.onRcptTo(parsed, c.session, (error) => {
      if (error) {
        c.send((error as { responseCode?: number }).responseCode || 550, error.message);
      } else {
        // Every accepted RCPT is kept; smtp_message.ts drops true repeats (RFC 5321 §2.4).
        c.session.envelope.rcptTo.push(parsed);
        c.sendFormatted(RCPT_ACCEPTED);
      }
      done();
    });
  },
  DATA(c) {
    if (!c.session.envelope.rcptTo.length) return c.send(503, "Error: need RCPT command");
    c.startData();
  },
};

/** Runs one command line; `ready` is false before the greeting went out. */
export function runCommand(c: Connection, line: string, ready: boolean): void {
  if (c.upgrading) return;
  const space = line.indexOf(" ");
  const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  if (c.host.shuttingDown) return c.send(421, "Server shutting down");
  if (!ready) {
    return c.send(
      421,
      `${c.name} You talk too soon`,
      verb === "EHLO" || verb === "HELO" ? "none" : undefined,
    );
  }
  if (HTTP_VERBS.has(verb) && HTTP.test(line)) return c.send(421, "HTTP requests not allowed");
  const command = Object.hasOwn(COMMANDS, verb) && c.isSupported(verb) ? COMMANDS[verb] : null;
  if (verb === "EHLO" || verb === "HELO") c.openingCommand = verb;
  if (!command) {
    if (++c.unrecognized >= MAX_UNRECOGNIZED) {
      return c.send(421, "Error: too many unrecognized commands");
    }
    return c.send(500, "Error: command not recognized");
  }
  if (!c.hostNameAppearsAs && NEEDS_HELO.has(verb)) {
    return c.send(503, "Error: send HELO/EHLO first");
  }
  // Splitting every line cost each RCPT an array and a regex split it never reads.
  command(c, line, TAKES_ARGS.has(verb) ? line.trim().split(/\s+/).slice(1) : NO_ARGS);
}
