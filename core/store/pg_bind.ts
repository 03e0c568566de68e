/**
 * Bind messages that carry message bodies, written in pieces. node-postgres' serializer builds
 * each protocol message in one buffer that starts at 256 bytes and grows by half again whenever it
 * is full, so the accept insert's Bind, which carries a batch's bodies, is allocated, zero-filled
 * and copied several times over: 1.14 ms per Bind of 8 × 100 KB bodies against 0.28 ms for a
 * single 800 KB allocation in Deno (bench/pg_bind.ts), and the garbage kept the SMTP worker's GC
 * busy (54 % of its ticks at 100 KB in distributed mode, docs/performance.md). Here a Bind with a
 * large binary parameter is written as one exact-size buffer for its small fields with each large
 * parameter between them, by reference: the bytes are the same, and no body is copied in
 * JavaScript. node-postgres corks the socket around a query's messages, so the pieces still go
 * out in one write. A body is then read by the socket write, not copied at the call: its buffer
 * must not be detached (core/bytes.ts) before the statement settles, which the accept path keeps
 * to (it frees bodies once the insert resolved or failed).
 *
 * Talks to: node-postgres' `Connection#bind` (replaced per connection as the pool opens it).
 */
import { Buffer } from "node:buffer";
import type pg from "pg";

/** Binary parameters at least this long are written by reference, not copied. */
export const BY_REFERENCE_BYTES = 4096;

/** What node-postgres hands `Connection#bind` (pg/lib/query.js: `prepare`). */
export interface BindConfig {
  portal?: string;
  statement?: string;
  binary?: boolean;
  values?: unknown[];
  valueMapper?: (value: unknown, index: number) => unknown;
}

/** Whether a Bind for `values` carries a parameter worth writing by reference. */
function hasLargeBinary(values: readonly unknown[]): boolean {
  for (const value of values) {
    if (ArrayBuffer.isView(value) && value.byteLength >= BY_REFERENCE_BYTES) return true;
  }
  return false;
}

/**
 * The Bind message for `config` as pieces whose concatenation is exactly what pg-protocol's
 * `serialize.bind` produces: small fields in one buffer (cut where a large parameter goes),
 * large Buffer parameters as they are. Null when no parameter is large (serialize as usual).
 */
export function bindPieces(config: BindConfig): Uint8Array[] | null {
  const values = config.values ?? [];
  if (!hasLargeBinary(values)) return null;
  const portal = config.portal ?? "";
  const statement = config.statement ?? "";
  const n = values.length;
  const mapped = new Array<unknown>(n);
  const lengths = new Array<number>(n);
  // code, length, portal, statement, format codes, parameter count, result format codes
  let small = 1 + 4 + Buffer.byteLength(portal) + 1 + Buffer.byteLength(statement) + 1 +
    2 + 2 * n + 2 + 4;
  let large = 0;
  for (let i = 0; i < n; i++) {
    const value = config.valueMapper ? config.valueMapper(values[i], i) : values[i];
    mapped[i] = value;
    small += 4;
    if (value === null || value === undefined) continue;
    if (value instanceof Buffer) {
      lengths[i] = value.byteLength;
      if (value.byteLength >= BY_REFERENCE_BYTES) large += value.byteLength;
      else small += value.byteLength;
    } else {
      lengths[i] = Buffer.byteLength(value as string);
      small += lengths[i];
    }
  }
  const out = Buffer.allocUnsafe(small);
  let at = 0;
  out[at++] = 0x42; // 'B'
  at = out.writeInt32BE(small + large - 1, at);
  at += out.write(portal, at, "utf-8");
  out[at++] = 0;
  at += out.write(statement, at, "utf-8");
  out[at++] = 0;
  at = out.writeInt16BE(n, at);
  const formats = at;
  at += 2 * n;
  at = out.writeInt16BE(n, at);
  const pieces: Uint8Array[] = [];
  let cut = 0;
  for (let i = 0; i < n; i++) {
    const value = mapped[i];
    let format = 0;
    if (value === null || value === undefined) {
      at = out.writeInt32BE(-1, at);
    } else if (value instanceof Buffer) {
      format = 1;
      at = out.writeInt32BE(lengths[i], at);
      if (lengths[i] >= BY_REFERENCE_BYTES) {
        pieces.push(out.subarray(cut, at), value);
        cut = at;
      } else {
        at += value.copy(out, at);
      }
    } else {
      at = out.writeInt32BE(lengths[i], at);
      at += out.write(value as string, at, "utf-8");
    }
    out.writeInt16BE(format, formats + 2 * i);
  }
  at = out.writeInt16BE(1, at); // one result format code for every column
  at = out.writeInt16BE(config.binary ? 1 : 0, at);
  pieces.push(out.subarray(cut, at));
  return pieces;
}

interface BindingConnection {
  bind(config: BindConfig): void;
  _send(buffer: Uint8Array): unknown;
}

/** Makes `client` write Binds with large binary parameters in pieces ({@link bindPieces}). */
export function bindLargeParametersByReference(client: pg.PoolClient): void {
  const connection = (client as unknown as { connection: BindingConnection }).connection;
  const bind = connection.bind;
  connection.bind = function (this: BindingConnection, config: BindConfig) {
    const pieces = bindPieces(config);
    if (!pieces) return bind.call(this, config);
    for (const piece of pieces) this._send(piece);
  };
}
