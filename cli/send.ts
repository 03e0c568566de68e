/**
 * `send`: the command-line inbound channel (Postfix's sendmail + pickup in one). Reads one
 * message from a file or standard input — raw RFC 5322 with the envelope from `--from`/`--to`,
 * or with `--json` an inject v1 document (core/inbound/inject_format.ts) — holds it to the SMTP
 * channel's limits, prepends `Received:` (and `Message-ID:` when missing) and hands it to
 * core/accept. The queue id is printed only once accept says the message is durable (fsync'd
 * SQLite commit, or SQL commit + broker confirm).
 *
 * It opens the store and the queue itself, so it works whether or not a server runs: a running
 * server's scheduler finds the message at its next pass (within `queue.poll_interval`; with
 * RabbitMQ the unit is pushed to a node at once), and a server started later finds it too.
 *
 * Trust: whoever may run it with the config file may send anywhere (no relay check), as with
 * the inject queue. Talks to: the store, RabbitMQ when configured, core/accept.
 * Reads config: database, rabbitmq, smtp.hostname, smtp.max_message_size, smtp.max_recipients,
 * smtp.max_header_size, smtp.add_message_id, intake.* (with the stored cluster-wide overrides, as
 * a node).
 */
import { Acceptor, newQueueId } from "../core/accept/mod.ts";
import { traceHeader } from "../core/mail/mod.ts";
import { ConfigSync } from "../core/cluster/config_sync.ts";
import { type Config, loadConfig } from "../core/config/mod.ts";
import { composeMessage } from "../core/inbound/compose.ts";
import { injectLimitsOf, parseInject } from "../core/inbound/inject_format.ts";
import { headerLimitsOf, headerProblemText } from "../core/inbound/header_limits.ts";
import { MessageCollector, messageIdHeader } from "../core/inbound/message.ts";
import { log } from "../core/log.ts";
import type { NewMessage } from "../core/contracts/mod.ts";
import { type AcceptQueue, openQueue } from "../core/queue/mod.ts";
import { defineCommand } from "./_command.ts";
import { openCurrentStore } from "./_database.ts";
import { cliEvents } from "./_events.ts";
import { UsageError } from "./_usage.ts";
import {
  type Checked,
  commandLineEnvelope,
  type Envelope,
  type EnvelopeRequest,
  untilDotLine,
} from "./send_envelope.ts";

const CR = 13;
const LF = 10;

/** The `send` command. */
export const sendCommand = defineCommand({
  name: "send",
  summary: "Queue a message from a file or standard input",
  args: "[RECIPIENT...] [FILE|-]",
  description:
    `Queues one message and prints its queue id once the message is durable (committed to disk, or
confirmed by RabbitMQ). Needs no running server: one that runs delivers it within
queue.poll_interval, else the next one to start does. Reads FILE, or standard input when FILE is
"-" or missing. An argument with an "@" is a recipient. Give the envelope with --from and --to
(or recipient arguments, or -t), or --json alone. Without --from the sender is the login name at
smtp.hostname, as with sendmail; a message without a From field gets one. Called by the name
sendmail the program takes sendmail's own flags ("fastmta sendmail --help").

The message is raw RFC 5322 (header fields, an empty line, the body). Bare LF line ends become
CRLF, so a file saved by an ordinary editor is fine. A Received: header, and a Message-ID: when
the message has none, are added. smtp.max_message_size, smtp.max_recipients and
smtp.max_header_size apply as on SMTP; there is no relay check.`,
  options: {
    from: {
      type: "string",
      value: "ADDR",
      short: "f",
      description: 'Envelope sender ("<>" for the null sender)',
    },
    to: {
      type: "string",
      value: "ADDR",
      multiple: true,
      description: "Envelope recipient; separate several with commas",
    },
    "read-recipients": {
      type: "boolean",
      short: "t",
      description: "Also send to the To, Cc and Bcc addresses of the header; Bcc is removed",
    },
    "full-name": {
      type: "string",
      value: "NAME",
      short: "F",
      description: "Full name for the From field added when the message has none",
    },
    json: {
      type: "boolean",
      description: 'Read an inject v1 JSON document instead; it holds the envelope ("from", ' +
        '"to") and the message (raw, or subject/text/html)',
    },
  },
  database: "current-or-new",
  epilog:
    `Exit codes: 0 queued (the id is printed), 1 not queued because of a database or broker failure
(try again), 2 refused: bad arguments, or a message that breaks a limit (nothing is queued).

Example:
  printf 'Subject: Hi\\n\\nHello.\\n' | fastmta send --from me@example.com --to you@example.org`,
  run: ({ configPath, args, values }) =>
    send(configPath, args, {
      from: values.from,
      to: values.to,
      json: values.json,
      headerRecipients: values["read-recipients"],
      fullName: values["full-name"],
    }),
});

/** Options of the `send` command, as given on the command line. */
export interface SendOptions {
  /** Envelope sender; "" or "<>" for the null sender; default: the login name at our host. */
  from?: string;
  /** Envelope recipients; each may hold several, separated by commas. */
  to?: string[];
  /** The input is an inject v1 JSON document that carries the envelope. */
  json: boolean;
  /** `-t`: also send to the To, Cc and Bcc addresses of the header; Bcc is removed. */
  headerRecipients?: boolean;
  /** `-F`: full name for the From field added when the message has none. */
  fullName?: string;
  /** sendmail without `-i`: a line holding a single "." ends the message. */
  dotEnds?: boolean;
  /** sendmail prints nothing on success (PHP's mail() would pass the id on to its output). */
  quiet?: boolean;
}

/** Queues one message and prints its queue id once it is durable; returns the exit code. */
export async function send(
  configPath: string | null,
  args: string[],
  options: SendOptions,
): Promise<number> {
  const { file, recipients } = fileAndRecipients(args);
  let request: EnvelopeRequest | null = null;
  if (options.json) {
    if (
      options.from !== undefined || options.to !== undefined || recipients.length > 0 ||
      options.headerRecipients || options.fullName !== undefined
    ) {
      throw new UsageError(
        'Cannot use --from, --to, -t, -F or recipients with --json: the JSON has "from" and "to"',
      );
    }
  } else {
    const to = [...options.to ?? [], ...recipients];
    if (to.length === 0 && !options.headerRecipients) {
      throw new UsageError("Missing --to (or recipients as arguments, or -t to read the header)");
    }
    request = { ...options, to };
  }

  const seed = await loadConfig(configPath);
  // A brand-new database is set up (the README promises send works before any server ran);
  // one that is behind is reported, not migrated.
  const store = await openCurrentStore(seed, "accept", { setUpNew: true });
  let queue: AcceptQueue | null = null;
  let events: { close(): Promise<void> } | null = null;
  try {
    // The limits a node applies are the file's plus the stored overrides (`fastmta config`).
    const config = await new ConfigSync(store, seed, {
      log: (line) => log("config", line),
      onChange: () => {},
    }).effectiveConfig();
    const limits = config.smtp;
    // A JSON-escaped or base64 message is larger than itself: parseInject has the exact bound.
    const input = options.json
      ? await readInput(file, limits.max_message_size * 2 + 65_536, "inject document")
      : await readInput(file, limits.max_message_size, "message");
    if (!input.ok) return refuse(input.reason);
    const message = request
      ? rawMessage(options.dotEnds ? untilDotLine(input.value) : input.value, request, config)
      : jsonMessage(input.value, config);
    if (!message.ok) return refuse(message.reason);

    queue = await openQueue(config, store, {
      role: "accept",
      log: (line) => log("queue", line),
    });
    // The "received" event goes to the webhooks from here (this process has no hub).
    events = await cliEvents(config, store);
    const id = await new Acceptor(queue).submit(message.value);
    if (!options.quiet) console.log(id);
    return 0;
  } finally {
    // Once the id is printed the message is queued: trouble closing must not turn that into
    // a failure the caller would retry (and so send twice).
    await events?.close().catch((e) => log("events", `cannot write: ${(e as Error).message}`));
    await queue?.close().catch((e) => log("queue", `cannot close: ${(e as Error).message}`));
    await store.close().catch((e) => log("store", `cannot close: ${(e as Error).message}`));
  }
}

function refuse(reason: string): number {
  console.error(reason);
  return 2;
}

/**
 * FILE and recipients from the positional arguments: one with an "@" is a recipient, "-" or one
 * without an "@" is the file (at most one).
 */
function fileAndRecipients(args: string[]): { file: string | null; recipients: string[] } {
  const files = args.filter((a) => a === "-" || !a.includes("@"));
  if (files.length > 1) {
    throw new UsageError(
      `Unexpected argument "${files[1]}": give one FILE; a recipient needs an "@"`,
    );
  }
  const recipients = args.filter((a) => !files.includes(a));
  return { file: files[0] === undefined || files[0] === "-" ? null : files[0], recipients };
}

/** The bytes of FILE (null: standard input), refusing more than `limit`. */
async function readInput(
  file: string | null,
  limit: number,
  what: "message" | "inject document",
): Promise<Checked<Uint8Array>> {
  let source: ReadableStream<Uint8Array>;
  if (file === null) {
    if (Deno.stdin.isTerminal()) console.error("Reading the message; end it with Ctrl-D");
    source = Deno.stdin.readable;
  } else {
    try {
      source = (await Deno.open(file)).readable;
    } catch (error) {
      return { ok: false, reason: `Cannot read "${file}": ${(error as Error).message}` };
    }
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early cancels the stream, which closes the file.
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > limit) {
      return what === "message"
        ? tooLarge(`more than ${limit}`, limit)
        : { ok: false, reason: `Inject document too large: more than ${limit} bytes` };
    }
    chunks.push(chunk);
  }
  if (size === 0) {
    return { ok: false, reason: `No message: ${file ? `"${file}"` : "standard input"} is empty` };
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, value: bytes };
}

function tooLarge(size: number | string, limit: number): { ok: false; reason: string } {
  return {
    ok: false,
    reason: `Message too large: ${size} bytes (smtp.max_message_size is ${limit})`,
  };
}

/** A raw message with the envelope from the command line. */
function rawMessage(
  input: Uint8Array,
  request: EnvelopeRequest,
  config: Config,
): Checked<NewMessage> {
  const built = commandLineEnvelope(request, withCrlfLineEnds(input), config.smtp.hostname);
  if (!built.ok) return built;
  const { envelope, content } = built.value;
  if (envelope.recipients.length > config.smtp.max_recipients) {
    return {
      ok: false,
      reason: `Too many recipients: ${envelope.recipients.length} ` +
        `(smtp.max_recipients is ${config.smtp.max_recipients})`,
    };
  }
  const now = Date.now();
  return queuedForm(content, { ...envelope, id: newQueueId(now), now, config });
}

/** A message from an inject v1 document: raw as given, or composed from its fields. */
function jsonMessage(content: Uint8Array, config: Config): Checked<NewMessage> {
  const parsed = parseInject(content, injectLimitsOf(config));
  if (!parsed.ok) return { ok: false, reason: `Invalid inject message: ${parsed.reason}` };
  const now = Date.now();
  const id = newQueueId(now);
  const { sender, recipients, meta } = parsed.message;
  const body = parsed.content.kind === "raw" ? parsed.content.bytes : new TextEncoder().encode(
    composeMessage({
      from: sender,
      to: recipients,
      ...parsed.content.fields,
      messageId: `${id}@${config.smtp.hostname}`,
      date: new Date(now),
    }),
  );
  return queuedForm(body, { sender, recipients, meta, id, now, config });
}

/**
 * What accept stores, as the SMTP channel stores it: CRLF line ends, the size and header limits
 * checked, and our `Received:` (and `Message-ID:` if missing) in front of the message's bytes.
 */
function queuedForm(
  content: Uint8Array,
  options: Envelope & { meta?: Record<string, unknown>; id: string; now: number; config: Config },
): Checked<NewMessage> {
  const { id, now, config: { smtp } } = options;
  const crlf = withCrlfLineEnds(content);
  if (crlf.byteLength > smtp.max_message_size) {
    return tooLarge(crlf.byteLength, smtp.max_message_size);
  }
  const headerLimits = headerLimitsOf(options.config);
  const collector = new MessageCollector(headerLimits);
  collector.push(crlf, false);
  if (collector.refused === "header") {
    const problem = headerProblemText(collector.headerProblem ?? "size", headerLimits);
    return { ok: false, reason: `Invalid message: ${problem}` };
  }
  let prefix = traceHeader({
    from: "local (fastmta send)",
    protocol: "local",
    hostname: smtp.hostname,
    queueId: id,
    recipient: options.recipients.length === 1 ? options.recipients[0] : null,
    date: new Date(now),
  });
  if (smtp.add_message_id && !collector.hasMessageId()) {
    prefix += messageIdHeader(id, smtp.hostname);
  }
  return {
    ok: true,
    value: {
      id,
      sender: options.sender,
      recipients: options.recipients,
      channel: "cli",
      clientIp: null,
      receivedAt: now,
      body: collector.build(prefix),
      meta: options.meta,
    },
  };
}

/**
 * Bare LF line ends become CRLF, and a last line without one gets CRLF: files on disk usually
 * have LF, SMTP needs CRLF, and the stored message is what gets signed and sent.
 */
export function withCrlfLineEnds(input: Uint8Array): Uint8Array {
  let bare = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === LF && input[i - 1] !== CR) bare++;
  }
  const open = input.length > 0 && input.at(-1) !== LF ? 2 : 0;
  if (bare === 0 && open === 0) return input;
  const out = new Uint8Array(input.length + bare + open);
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] === LF && input[i - 1] !== CR) out[o++] = CR;
    out[o++] = input[i];
  }
  if (open) {
    out[o++] = CR;
    out[o++] = LF;
  }
  return out;
}
