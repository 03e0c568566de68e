/**
 * MAIL FROM and RCPT TO of the own SMTP engine: the path, its ESMTP parameters (SIZE, BODY,
 * SMTPUTF8, REQUIRETLS, DSN's RET, ENVID, NOTIFY and ORCPT, xtext-decoded) and the checks npm
 * `smtp-server` made, with its reply texts. An address is `local@domain` with a dot-atom-ish
 * local part and a hostname or IP literal; an IDN in A-labels is handed on in U-labels.
 *
 * @module
 */
import { isIPv4, isIPv6 } from "node:net";
import punycode from "punycode.js";
import type { SMTPServerAddress } from "smtp-server";
import type { CodeChoice } from "./replies.ts";

/** A refusal: reply code, text and how it picks its enhanced code. */
export interface Refusal {
  code: number;
  text: string;
  choice?: CodeChoice;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1F\x7F-\x9F]/;
// deno-lint-ignore no-control-regex
const UNSAFE_IN_ADDRESS = /[\x00-\x1F\x7F-\x9F\u200B\u2060\uFEFF]/;
const MAIL_VALUE_PARAMS = ["BODY", "SIZE", "RET", "ENVID"];
const RCPT_VALUE_PARAMS = ["NOTIFY", "ORCPT"];
const WHITESPACE = /\s/;
/** The full stops besides "." that IDNA (and punycode.js) read as label separators. */
const OTHER_FULL_STOPS = /[\u3002\uFF0E\uFF61]/;

/** RFC 3461 xtext: "+XX" is a hex escape. */
export function decodeXtext(value: string): string {
  return value.replace(/\+([0-9A-F]{2})/g, (_m, hex) => String.fromCharCode(parseInt(hex, 16)));
}

function canonicalIPv6(address: string): string {
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}

/** The domain as handed on, or null when it is not acceptable. */
function domainOf(domain: string): string | null {
  if (domain.startsWith("[") && domain.endsWith("]")) {
    const literal = domain.slice(1, -1);
    if (/^ipv6:/i.test(literal)) {
      return isIPv6(literal.slice(5)) ? `[IPv6:${canonicalIPv6(literal.slice(5))}]` : null;
    }
    return isIPv4(literal) ? domain : null;
  }
  if (
    domain.startsWith(".") || domain.endsWith(".") || domain.includes("..") ||
    domain.includes(".-") || domain.includes("-.") || !/^[a-zA-Z0-9\u0080-\uFFFF.-]+$/.test(domain)
  ) {
    return null;
  }
  // punycode.js changes only A-labels ("xn--…") and the other full stops: skip it without them.
  if (!domain.includes("xn--") && !OTHER_FULL_STOPS.test(domain)) return domain;
  try {
    return punycode.toUnicode(domain);
  } catch {
    return null;
  }
}

/**
 * Whether `line` up to `colon` is `name` (trimmed, any case). The usual line ("RCPT TO:",
 * "mail from:") is compared in place, every RCPT made three strings to know; anything else
 * (spaces, letters that only upper-case to ASCII) is judged the full way.
 */
function isCommandName(line: string, colon: number, name: string): boolean {
  if (colon === name.length) {
    let i = 0;
    for (; i < colon; i++) {
      const c = line.charCodeAt(i);
      const n = name.charCodeAt(i);
      if (c !== n && !(c >= 0x61 && c <= 0x7a && c - 0x20 === n)) break; // a-z as A-Z
    }
    if (i === colon) return true;
  }
  return line.slice(0, colon).trim().toUpperCase() === name;
}

/** Parses `MAIL FROM:<…> params` or `RCPT TO:<…> params`; null when it is malformed. */
export function parsePath(
  name: "MAIL FROM" | "RCPT TO",
  line: string,
): (SMTPServerAddress & { duplicate?: string }) | null {
  const colon = line.indexOf(":");
  if (colon < 0 || !isCommandName(line, colon, name)) return null;
  const rest = line.slice(colon + 1).trim();
  // The usual `<path>` alone needs no split (one array and regex less per RCPT).
  const parts = WHITESPACE.test(rest) ? rest.split(/\s+/) : [rest];
  let address = parts.shift() ?? "";
  if (!/^<[^<>]*>$/.test(address)) return null;
  address = address.slice(1, -1);
  // A source route (`<@a,@b:user@c>`) is dropped, as RFC 5321 §4.1.1.3 allows.
  if (address.startsWith("@")) address = address.replace(/^@[^\s,:@]+(?:,@[^\s,:@]+)*:/, "");
  let args: Record<string, string | boolean> | false = false;
  let duplicate: string | undefined;
  for (const param of parts) {
    const eq = param.indexOf("=");
    const key = (eq < 0 ? param : param.slice(0, eq)).toUpperCase();
    if (!key.trim()) continue;
    const raw = eq < 0 ? "" : param.slice(eq + 1);
    let value: string | boolean = raw || true;
    if (typeof value === "string") {
      value = decodeXtext(value);
      if (CONTROL.test(value)) return null;
    }
    if (!args) args = {};
    if (key in args) duplicate = key;
    args[key] = value;
  }
  if (address && UNSAFE_IN_ADDRESS.test(address)) return null;
  if (
    address &&
    !(name === "RCPT TO" && address.length === 10 && address.toLowerCase() === "postmaster")
  ) {
    const at = address.indexOf("@");
    if (at <= 0 || at === address.length - 1 || address.indexOf("@", at + 1) >= 0) return null;
    const local = address.slice(0, at);
    const rawDomain = address.slice(at + 1);
    if (address.length > 253) return null;
    if (local.startsWith(".") || local.endsWith(".") || local.includes("..")) return null;
    const domain = domainOf(rawDomain);
    if (domain === null) return null;
    if (domain !== rawDomain) address = `${local}@${domain}`;
  }
  const parsed: SMTPServerAddress & { duplicate?: string } = {
    address,
    args: args as SMTPServerAddress["args"],
  };
  if (duplicate) parsed.duplicate = duplicate;
  return parsed;
}

/** The 501 for a repeated parameter, or one of MAIL's (RCPT's) that needs a value and has none. */
export function invalidParams(
  parsed: { args: SMTPServerAddress["args"]; duplicate?: string },
  command: "MAIL" | "RCPT",
): Refusal | null {
  const text = invalidText(parsed, command === "MAIL" ? MAIL_VALUE_PARAMS : RCPT_VALUE_PARAMS);
  return text ? { code: 501, text } : null;
}

function invalidText(
  parsed: { args: SMTPServerAddress["args"]; duplicate?: string },
  keys: string[],
): string | null {
  if (parsed.duplicate) return `Error: duplicate ${parsed.duplicate} parameter`;
  const args = parsed.args;
  const valueless = args &&
    keys.find((k) => args[k] !== undefined && (typeof args[k] !== "string" || !args[k]));
  return valueless ? `Error: ${valueless} parameter requires a value` : null;
}

/** What MAIL FROM's parameters set in the envelope. */
export interface MailParams {
  bodyType?: string;
  smtpUtf8?: boolean;
  requireTLS?: boolean;
  ret?: string;
  envid?: string;
}

/** Checks MAIL FROM's parameters (after invalidParams); returns a refusal or what they set. */
export function mailParams(
  parsed: SMTPServerAddress & { duplicate?: string },
  options: { size: number; secure: boolean },
): Refusal | MailParams {
  const args = (parsed.args || {}) as Record<string, string | boolean | undefined>;
  const size = args.SIZE as string | undefined;
  if (size) {
    if (!/^\d{1,20}$/.test(size)) return { code: 501, text: "Error: Bad message size syntax" };
    if (options.size && Number(size) > options.size) {
      return {
        code: 552,
        text: `Error: message exceeds fixed maximum message size ${options.size}`,
        choice: "MESSAGE_TOO_BIG",
      };
    }
  }
  const out: MailParams = {};
  const body = args.BODY as string | undefined;
  if (body) {
    const type = body.toLowerCase();
    if (type !== "7bit" && type !== "8bitmime") {
      return { code: 501, text: "Invalid BODY parameter value. Must be 7BIT or 8BITMIME" };
    }
    out.bodyType = type;
  }
  if (args.SMTPUTF8 !== undefined) {
    if (args.SMTPUTF8 !== true) {
      return { code: 501, text: "Invalid SMTPUTF8 parameter. This flag does not accept a value" };
    }
    out.smtpUtf8 = true;
  }
  if (args.REQUIRETLS !== undefined) {
    if (!options.secure) {
      return { code: 530, text: "REQUIRETLS not permitted on non-TLS connections" };
    }
    if (args.REQUIRETLS !== true) {
      return { code: 501, text: "Invalid REQUIRETLS parameter. This flag does not accept a value" };
    }
    out.requireTLS = true;
  }
  const ret = args.RET as string | undefined;
  if (ret) {
    const upper = ret.toUpperCase();
    if (upper !== "FULL" && upper !== "HDRS") {
      return { code: 501, text: "Invalid RET parameter value. Must be FULL or HDRS" };
    }
    out.ret = upper;
  }
  if (args.ENVID) out.envid = args.ENVID as string;
  return out;
}

/** Checks RCPT TO's parameters (after invalidParams) and records NOTIFY and ORCPT in `parsed.dsn`. */
export function rcptParams(parsed: SMTPServerAddress & { duplicate?: string }): Refusal | null {
  if (parsed.duplicate !== undefined) delete parsed.duplicate;
  if (!parsed.args) return null;
  const args = parsed.args as Record<string, string | undefined>;
  if (args.NOTIFY) {
    const values = args.NOTIFY.toUpperCase().split(",");
    if (values.some((v) => !["NEVER", "SUCCESS", "FAILURE", "DELAY"].includes(v))) {
      return {
        code: 501,
        text: "Error: NOTIFY parameter must be NEVER, SUCCESS, FAILURE, or DELAY",
      };
    }
    if (values.includes("NEVER") && values.length > 1) {
      return { code: 501, text: "Error: NOTIFY=NEVER cannot be combined with other values" };
    }
    parsed.dsn = { ...parsed.dsn, notify: values as never };
  }
  if (args.ORCPT) {
    if (!/^[a-z0-9!#$%&'*+/=?^_`{|}~-]+;./i.test(args.ORCPT)) {
      return { code: 501, text: "Error: Bad ORCPT parameter syntax" };
    }
    parsed.dsn = { ...parsed.dsn, orcpt: args.ORCPT } as never;
  }
  return null;
}
