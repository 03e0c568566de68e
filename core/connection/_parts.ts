/** Pieces shared by the connection-string parsers: the error, ports, flags, durations, URLs. */

/** A connection string that cannot be used; the message names the wrong part. */
export class ConnectionStringError extends Error {
  override name = "ConnectionStringError";
  constructor(detail: string) {
    super(`Cannot parse "database.connection": ${detail}`);
  }
}

/** Throws a `ConnectionStringError` with `detail`. */
export function fail(detail: string): never {
  throw new ConnectionStringError(detail);
}

/** A TCP port (1-65535); `what` names it in the error. */
export function parsePort(value: string, what = "port"): number {
  if (!/^\d{1,5}$/.test(value)) fail(`${what} "${value}" is not a number`);
  const port = Number(value);
  if (port < 1 || port > 65535) fail(`${what} "${value}" is out of range (1-65535)`);
  return port;
}

/** Go's strconv.ParseBool, which the Go drivers use for flags. */
export function parseBool(name: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  fail(`parameter "${name}" expects true or false, got "${value}"`);
}

/** A Go duration ("5s", "1m30s", "500ms") or bare seconds, in milliseconds. */
export function parseGoDuration(name: string, value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let end = 0;
  for (const match of value.matchAll(re)) {
    total += Number(match[1]) * units[match[2]];
    end = match.index + match[0].length;
  }
  if (end !== value.length || value === "") {
    fail(`parameter "${name}" expects a duration like "5s", got "${value}"`);
  }
  return Math.round(total);
}

/** %-decodes one part of a URL; `what` names it in the error. */
export function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    fail(`${what} has a malformed %-escape`);
  }
}

/** Splits a URL's query into ordered pairs (keys as written). */
export function queryPairs(query: string): [string, string][] {
  if (query === "") return [];
  return query.split("&").filter((p) => p !== "").map((pair) => {
    const eq = pair.indexOf("=");
    const key = decode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, " "), "a parameter");
    const value = eq < 0 ? "" : decode(pair.slice(eq + 1).replace(/\+/g, " "), `"${key}"`);
    return [key, value];
  });
}

/** A URL split into its parts, %-decoded (all but the port). */
export interface UrlParts {
  scheme: string;
  user: string | null;
  password: string | null;
  host: string;
  port: string | null;
  path: string;
  query: [string, string][];
}

/**
 * A URL split by hand: `new URL` would accept too much (and say too little about what is
 * wrong) for schemes it does not know.
 */
export function splitUrl(text: string): UrlParts {
  const m = text.match(/^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i);
  if (!m) fail("not a URL of the form scheme://user:password@host:port/…");
  const [, scheme, authority, path, query] = m;
  let user: string | null = null;
  let password: string | null = null;
  let hostPort = authority;
  const at = authority.lastIndexOf("@");
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    const colon = userInfo.indexOf(":");
    user = decode(colon < 0 ? userInfo : userInfo.slice(0, colon), "the user name");
    password = colon < 0 ? null : decode(userInfo.slice(colon + 1), "the password");
  }
  let host = hostPort;
  let port: string | null = null;
  const v6 = hostPort.match(/^\[([^\]]*)\](?::(.*))?$/);
  if (v6) {
    host = v6[1];
    port = v6[2] ?? null;
  } else if (hostPort.includes(":")) {
    const colon = hostPort.lastIndexOf(":");
    host = hostPort.slice(0, colon);
    port = hostPort.slice(colon + 1);
  }
  if (/[\s@]/.test(host)) fail(`host "${host}" is not a host name or address`);
  return {
    scheme: scheme.toLowerCase(),
    user,
    password,
    host: decode(host, "the host"),
    port: port === "" ? null : port,
    path: decode(path, "the path"),
    query: queryPairs(query ?? ""),
  };
}
