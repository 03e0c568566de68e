/**
 * The one logger. A line has a time, a level, a component, a message and fields (`queue_id` on
 * every line about a message). `serve` writes JSON lines on stdout (human-readable text when
 * stdout is a terminal, or with `log.format: "text"`); every other command writes text on stderr
 * so its stdout stays its result. Redaction runs on every line, last: known secrets (registered
 * with {@link addSecret} from the configuration), passwords in URLs, `password=`-style pairs,
 * bearer tokens, PEM private keys and fields whose name says secret.
 *
 * Workers do not write: they post `{type: "log"}` to the main thread, which writes here, so the
 * settings and the registered secrets live in one place.
 */

/** Levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Structured fields of a line (snake_case names; `queue_id` for a message). */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** How lines are written. */
export interface LogSettings {
  level: LogLevel;
  /** auto: JSON unless the stream is a terminal. */
  format: "auto" | "json" | "text";
  stream: "stdout" | "stderr";
}

let settings: LogSettings = { level: "info", format: "text", stream: "stderr" };
let json = false;
const secrets = new Set<string>();
const encoder = new TextEncoder();

function isTerminal(stream: LogSettings["stream"]): boolean {
  try {
    return (stream === "stdout" ? Deno.stdout : Deno.stderr).isTerminal();
  } catch {
    return false;
  }
}

/** Applies `log.level` / `log.format` (and, for serve, stdout); live: takes effect at once. */
export function configureLog(next: Partial<LogSettings>): void {
  settings = { ...settings, ...next };
  if (settings.stream === "stdout" && !flushOnUnload) {
    flushOnUnload = true;
    globalThis.addEventListener("unload", () => flushLog());
  }
  json = settings.format === "json" || (settings.format === "auto" && !isTerminal(settings.stream));
}

/** Registers a secret (a password, key or token from the configuration): never written. */
export function addSecret(value: string | null | undefined): void {
  // Very short values would blank out ordinary words; they are not secrets worth the name.
  if (value && value.length >= 6) secrets.add(value);
}

const SECRET_FIELD = /pass(word|wd)?|secret|token|api_?key|private_?key|authorization|cookie/i;
const PATTERNS: [RegExp, string][] = [
  // scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi, "$1***@"],
  // password=…, "password": "…", pwd: …  (connection strings, JSON, key-value text)
  [/\b(pass(?:word|wd)?|pwd|secret|token|api_?key)("?\s*[=:]\s*"?)[^\s"&;,)]+/gi, "$1$2***"],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, "Bearer ***"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[private key]"],
];

/**
 * What a text must hold for each of PATTERNS to match, tested first: every line is redacted, most
 * hold none of them, and the URL pattern alone tries a match at every letter (formatting a
 * delivered line as JSON: 7.8 → 3.7 µs CPU).
 */
const NEEDS: (string | RegExp)[] = [
  "://",
  /pass|pwd|secret|token|api_?key/i,
  "Bearer",
  "-----BEGIN ",
];

/** Removes secrets from `text`. */
export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join("***");
  for (let i = 0; i < PATTERNS.length; i++) {
    const need = NEEDS[i];
    if (typeof need === "string" ? !out.includes(need) : !need.test(out)) continue;
    out = out.replace(PATTERNS[i][0], PATTERNS[i][1]);
  }
  return out;
}

// Queue ids (core/accept/queue_id.ts): 16 characters of this alphabet, at least one letter.
const QUEUE_ID = /\b(?=[0-9]*[BCDFGHJKLMNPQRSTVWXYZ])[0-9BCDFGHJKLMNPQRSTVWXYZ]{16}\b/;

/** The queue id a message text names, if any (lines from stages that pass plain text). */
export function queueIdIn(message: string): string | undefined {
  return message.match(QUEUE_ID)?.[0];
}

// Plain-text lines from the stages carry no level; these words mean something went wrong.
const TROUBLE =
  /\b(cannot|failed|failure|lost|unavailable|crashed|refused|error|unreadable|warning)\b/i;

/** The level of a plain-text line: warn when it reports trouble, else info. */
export function levelOf(message: string): LogLevel {
  return TROUBLE.test(message) ? "warn" : "info";
}

function enabled(level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(settings.level);
}

function textValue(value: string | number | boolean): string {
  const s = String(value);
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** The record's own keys: a field of the same name cannot replace them. */
const RESERVED = new Set(["time", "level", "component", "msg"]);

/** Formats one line (no trailing newline); exported for tests. */
export function formatLine(
  level: LogLevel,
  component: string,
  message: string,
  fields: LogFields,
  asJson: boolean,
  time = new Date(),
): string {
  const clean: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null || RESERVED.has(key)) continue;
    clean[key] = SECRET_FIELD.test(key) ? "***" : value;
  }
  if (clean.queue_id === undefined) {
    const id = queueIdIn(message);
    if (id) clean.queue_id = id;
  }
  if (asJson) {
    return redact(JSON.stringify({
      time: time.toISOString(),
      level,
      component,
      msg: message,
      ...clean,
    }));
  }
  let line = `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${component}: ${message}`;
  for (const [key, value] of Object.entries(clean)) line += ` ${key}=${textValue(value)}`;
  return redact(line);
}

/** Writes a line at `level`. */
export function logAt(
  level: LogLevel,
  component: string,
  message: string,
  fields: LogFields = {},
): void {
  if (!enabled(level)) return;
  const line = formatLine(level, component, message, fields, json);
  // stderr through console.error: the CLI's tests capture it there (tests/helpers/run_main.ts).
  if (settings.stream === "stderr") return console.error(line);
  // Lines of one tick go out in one write (a settled batch logs many); an error level line, and
  // the last of the tick, are written before the next macrotask.
  pending.push(line);
  if (level === "error") return flushLog();
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flushLog);
  }
}

let pending: string[] = [];
let flushOnUnload = false;
let flushQueued = false;

/** Writes the lines waiting (also called before the process exits). */
export function flushLog(): void {
  flushQueued = false;
  if (pending.length === 0) return;
  const text = pending.join("\n") + "\n";
  pending = [];
  try {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  } catch {
    // A closed stdout (the reader went away) must not take the server down.
  }
}

/** Writes a line; its level is `warn` when the text reports trouble, else `info`. */
export function log(component: string, message: string, fields: LogFields = {}): void {
  logAt(levelOf(message), component, message, fields);
}
