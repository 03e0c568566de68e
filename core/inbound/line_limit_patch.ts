/**
 * An over-long command line gets `500 5.5.2` and the session goes on (RFC 5321 §4.5.3.1.4). npm
 * `smtp-server`'s command parser (SMTPStream) instead errors the stream, which the connection
 * answers with 421 and a close. Patched here, on the parser's prototype: in command mode each
 * chunk is handed to the library one line at a time, and a line over `maxCommandLength` (with
 * whatever else arrives before its line end) is dropped and answered by the connection. Data
 * mode (DATA, BDAT) is passed through untouched; the library switches modes between our lines.
 */
import { SMTPStream } from "smtp-server/lib/smtp-stream.js";

/** The private parts of SMTPStream the patch relies on. */
interface PatchableStream {
  _write(chunk: Uint8Array, encoding: string, next: (error?: Error | null) => void): void;
  _dataMode: boolean;
  _remainder: string;
  _maxCommandLength: number;
  /** Set by the connection (connection_patch.ts): answers one over-long line. */
  _fastmtaTooLong?: () => void;
  /** Dropping the rest of an over-long line, up to its LF. */
  _fastmtaSkipping?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
/** Lines handled without yielding to the event loop, as the library's own parser does. */
const MAX_SYNC_LINES = 100;
const PATCHED = Symbol.for("fastmta.smtpStreamLineLimit");

/** Patches SMTPStream (idempotent); only parsers the connection marked are changed. */
export function patchLineLimit(): void {
  const proto = SMTPStream.prototype as unknown as PatchableStream & { [PATCHED]?: boolean };
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const write = proto._write;
  proto._write = function (this: PatchableStream, chunk, encoding, next) {
    const tooLong = this._fastmtaTooLong;
    if (!tooLong || !chunk || chunk.length === 0) return write.call(this, chunk, encoding, next);
    const step = (rest: Uint8Array) => {
      let handled = 0;
      while (true) {
        if (rest.length === 0) return next();
        if (this._dataMode) return write.call(this, rest, encoding, next);
        const lf = rest.indexOf(LF);
        if (this._fastmtaSkipping) {
          if (lf < 0) return next();
          this._fastmtaSkipping = false;
          tooLong();
          rest = rest.subarray(lf + 1);
          continue;
        }
        const pending = this._remainder.length;
        if (lf < 0) {
          if (pending + rest.length > this._maxCommandLength) {
            this._remainder = "";
            this._fastmtaSkipping = true;
            return next();
          }
          return write.call(this, rest, encoding, next);
        }
        const crBefore = lf > 0 ? rest[lf - 1] === CR : this._remainder.endsWith("\r");
        if (pending + lf - (crBefore ? 1 : 0) > this._maxCommandLength) {
          this._remainder = "";
          tooLong();
          rest = rest.subarray(lf + 1);
          continue;
        }
        const after = rest.subarray(lf + 1);
        let sync = true;
        let doneSync = false;
        write.call(this, rest.subarray(0, lf + 1), encoding, (error) => {
          if (error) return next(error);
          if (sync) doneSync = true;
          else step(after);
        });
        sync = false;
        if (!doneSync) return; // the command's handler resumes us
        rest = after;
        if (++handled >= MAX_SYNC_LINES) return void setImmediate(() => step(after));
      }
    };
    step(chunk);
  };
}
