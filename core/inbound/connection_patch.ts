/**
 * Changes to npm `smtp-server`'s SMTPConnection that its options cannot express. Applied once
 * per thread to the class prototype; each behaviour reads its settings from the server's
 * `fastmta` option, so a server without it behaves as the library does except for the greeting.
 *
 * 1. Greeting delay. The library holds every new connection for a fixed 100 ms before its
 *    220 greeting (early-talker detection, hard-coded in `init`). Most senders deliver one
 *    message per connection, so that caps each concurrent client at ~10 messages/s. `init` is
 *    replaced with the same logic and a configurable delay (`smtp.greeting_delay`, default 0).
 *    With 0 the greeting goes out at once and input that arrived before it is simply read after
 *    it; with a delay, a client that talks before the greeting gets "421 You talk too soon".
 * 2. Error limit (Postfix's smtpd_hard_error_limit). Every 5xx reply counts; at `maxErrors`
 *    the session gets "421 4.7.0 Error: too many errors" and is closed.
 * 3. Command deadline (slow-loris guard). The library's idle timeout restarts with every byte,
 *    so a client trickling one byte a minute holds a connection forever. Here each command line
 *    must be complete within `commandTimeoutMs` of the previous one (the whole DATA within
 *    `dataTimeoutMs`), however the bytes trickle in; time the server itself spends (a handler
 *    still running, a message being committed) does not count.
 * 4. Explicit enhanced status codes. A reply text that already starts with one ("5.7.1 …")
 *    is sent as is instead of getting the library's generic code for the reply number.
 * 5. Recipients are not merged by the library. It keys repeated RCPTs by the lower-cased
 *    address, so `Bob@x` replaced `bob@x`; local parts are case-sensitive (RFC 5321 §2.4).
 *    Every accepted RCPT is kept here and smtp_message.ts drops true repeats (same local part,
 *    domain in any case).
 * 6. An over-long command line gets "500 5.5.2" and the session goes on (line_limit_patch.ts)
 *    instead of the library's 421 and close.
 */
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import { patchLineLimit } from "./line_limit_patch.ts";

/** Settings the patch reads from `new SMTPServer({ fastmta: … })`. */
export interface ConnectionPatchOptions {
  greetingDelayMs: number;
  maxErrors: number;
  commandTimeoutMs: number;
  dataTimeoutMs: number;
}

/** The private parts of smtp-server's SMTPConnection the patch relies on. */
interface PatchableConnection {
  init(): void;
  send(code: number, data: string | string[], context?: string | false): void;
  close(): void;
  connectionReady(): void;
  _onCommand(command: Uint8Array, callback: () => void): void;
  _onClose(): void;
  handler_RCPT(command: Uint8Array, callback: () => void): void;
  _createParser(): { _fastmtaTooLong?: () => void };
  _rcptIndex: Map<string, number>;
  _setListeners(callback: () => void): void;
  _server: {
    options: { maxClients?: number; fastmta?: ConnectionPatchOptions };
    connections: Set<unknown>;
  };
  _handlerPending: boolean;
  _dataStream: unknown;
  _parser: { _dataMode: boolean } | false;
  _closing: boolean;
  _closed: boolean;
  name: string;
  _fastmtaErrors?: number;
  _fastmtaDeadline?: ReturnType<typeof setTimeout>;
  /** When the command deadline is (ms since the epoch), and when its timer fires. */
  _fastmtaDueAt?: number;
  _fastmtaFiresAt?: number;
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** The library's repeated-recipient index, always empty: nothing is merged by lower-cased key. */
class NoMergeIndex extends Map<string, number> {
  override get(): undefined {
    return undefined;
  }
  override has(): boolean {
    return false;
  }
  override set(): this {
    return this;
  }
}
const NO_MERGE = new NoMergeIndex();
const PATCHED = Symbol.for("fastmta.smtpConnectionPatched");

/**
 * Sets the connection's command deadline `ms` from now. One timer per connection, moved only
 * when the new deadline comes before it fires: clearing and setting a timer for every command
 * line cost more than the rest of this patch (ten RCPTs are twenty timer calls per message). A
 * timer that fires before the deadline (it was set for an earlier one) waits out the rest.
 */
function armDeadline(connection: PatchableConnection, ms: number) {
  if (ms <= 0) {
    clearTimeout(connection._fastmtaDeadline);
    connection._fastmtaDeadline = undefined;
    return;
  }
  const due = Date.now() + ms;
  connection._fastmtaDueAt = due;
  if (connection._fastmtaDeadline !== undefined && connection._fastmtaFiresAt! <= due) return;
  clearTimeout(connection._fastmtaDeadline);
  startTimer(connection, ms);
}

function startTimer(connection: PatchableConnection, ms: number) {
  connection._fastmtaFiresAt = Date.now() + ms;
  connection._fastmtaDeadline = setTimeout(() => deadlineReached(connection), ms);
  (connection._fastmtaDeadline as { unref?: () => void }).unref?.();
}

function deadlineReached(connection: PatchableConnection) {
  connection._fastmtaDeadline = undefined;
  if (connection._closing || connection._closed) return;
  const left = connection._fastmtaDueAt! - Date.now();
  if (left > 0) return startTimer(connection, left);
  const options = connection._server.options.fastmta!;
  // Waiting for us (a handler, or a received message being committed) is not the client's
  // fault: look again later.
  const serverBusy = connection._handlerPending ||
    (connection._dataStream && connection._parser && !connection._parser._dataMode);
  if (serverBusy) return armDeadline(connection, options.commandTimeoutMs);
  connection.send(421, "4.4.2 Error: timeout exceeded, closing connection", false);
}

/** Patches SMTPConnection (idempotent). Call before creating SMTPServer instances. */
export function patchSmtpConnection(): void {
  const proto = SMTPConnection.prototype as unknown as PatchableConnection & {
    [PATCHED]?: boolean;
  };
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;

  proto.init = function init(this: PatchableConnection) {
    this._setListeners(() => {
      const options = this._server.options;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        return this.send(
          421,
          this.name + " Too many connected clients, try again in a moment",
          false,
        );
      }
      const fastmta = options.fastmta;
      if (fastmta) armDeadline(this, fastmta.commandTimeoutMs);
      const delay = fastmta?.greetingDelayMs ?? 0;
      if (delay <= 0) return this.connectionReady();
      const timer = setTimeout(() => this.connectionReady(), delay);
      (timer as { unref?: () => void }).unref?.();
    });
  };

  const send = proto.send;
  proto.send = function (
    this: PatchableConnection,
    code: number,
    data: string | string[],
    context?: string | false,
  ) {
    if (typeof data === "string" && ENHANCED.test(data)) context = false;
    send.call(this, code, data, context);
    const fastmta = this._server.options.fastmta;
    if (!fastmta || code < 500 || this._closing || this._closed) return;
    this._fastmtaErrors = (this._fastmtaErrors ?? 0) + 1;
    if (this._fastmtaErrors >= fastmta.maxErrors) {
      send.call(this, 421, "4.7.0 Error: too many errors, closing connection", false);
    }
  };

  const onCommand = proto._onCommand;
  proto._onCommand = function (this: PatchableConnection, command, callback) {
    onCommand.call(this, command, callback);
    const fastmta = this._server.options.fastmta;
    if (!fastmta || this._closing || this._closed) return;
    const inData = Boolean(this._parser && this._parser._dataMode);
    armDeadline(this, inData ? fastmta.dataTimeoutMs : fastmta.commandTimeoutMs);
  };

  patchLineLimit();
  const createParser = proto._createParser;
  proto._createParser = function (this: PatchableConnection) {
    const parser = createParser.call(this);
    if (this._server.options.fastmta) {
      parser._fastmtaTooLong = () => this.send(500, "5.5.2 Error: line too long");
    }
    return parser;
  };

  const handleRcpt = proto.handler_RCPT;
  proto.handler_RCPT = function (this: PatchableConnection, command, callback) {
    // The library resets its index with each transaction; replace it before every use.
    this._rcptIndex = NO_MERGE;
    handleRcpt.call(this, command, callback);
  };

  const onClose = proto._onClose;
  proto._onClose = function (this: PatchableConnection) {
    clearTimeout(this._fastmtaDeadline);
    onClose.call(this);
  };
}
