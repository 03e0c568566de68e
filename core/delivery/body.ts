/**
 * Body preparation for one attempt. A unit may wait a while for a connection (limits, a slow
 * site), and a worker has hundreds in flight: until a connection is ready it keeps only the head
 * of its message, enough for the control headers. Most messages fit in the head and are read
 * once; larger ones are read whole when a connection is ready (measured: ~20 MB less memory with
 * 100 KB messages on SQLite). On PostgreSQL and MariaDB the store hands bodies up to 128 KiB
 * whole in the head read (core/store/bodies.ts): a second query costs more there than the
 * memory. The bytes to send are made once per attempt, signed by the DKIM hook.
 *
 * Talks to: the store (message bodies), the DKIM signer (through the sign hook).
 */
import type { LeasedUnit } from "../contracts/mod.ts";
import type { SpoolRef } from "../store/mod.ts";
import { metaString, parseDeliverAt, readControlHeaders } from "./headers.ts";

/** How much of a message is read before a connection is ready (its head). */
const HEAD_BYTES = 16_384;

/** The bytes to send, a DKIM hold, or a message that vanished. */
export type WireBody = { body: Uint8Array } | { hold: string } | { missing: true };

/** [dkim hook] Signs the body before the transaction, or says to hold the unit (core/dkim). */
export type SignHook = (body: Uint8Array) => Promise<{ body: Uint8Array } | { hold: string }>;

/**
 * [bounce hook] Per-recipient envelope sender and extra header lines (VERP return paths,
 * List-Unsubscribe: core/bounce) for `unit` sent through `pool`; null when the unit is sent
 * as stored (one envelope for all its recipients).
 */
export type PersonalizeHook = (
  unit: LeasedUnit,
  pool: string,
) => ((recipient: string) => { sender: string; headers: string }) | null;

/** One recipient's envelope sender and bytes. */
export interface PersonalEnvelope {
  sender: string;
  body: WireBody;
}

/** Where bodies come from, and the signer. */
export interface BodySource {
  readBody(messageId: string): Promise<Uint8Array | null>;
  /** The first `maxBytes` of a message and its full size (see `Store.readBodyHead`). */
  readBodyHead(
    messageId: string,
    maxBytes: number,
  ): Promise<{ head: Uint8Array; size: number; spooled?: SpoolRef } | null>;
  /** A spooled body straight from its segment, where the head said it is (no query). */
  readSpooled?(ref: SpoolRef): Promise<Uint8Array | null>;
  sign?: SignHook;
  personalize?: PersonalizeHook;
}

/** One unit's message as far as it was read: its control headers and the way to its bytes. */
export interface PreparedMessage {
  /** Control header values (`x-fastmta-*`, lower-case names); they are not sent on. */
  readonly control: Map<string, string>;
  /**
   * The bytes to send, made on the first call (later calls share it): read whole if only the
   * head was, then signed; a signing failure may hold the unit (`dkim.on_error`).
   */
  wire(): Promise<WireBody>;
  /**
   * Per-recipient envelopes when the personalize hook wants them for `pool` (each body made
   * and signed for its recipient), else null: send `wire()` to all.
   */
  personalized(
    unit: LeasedUnit,
    pool: string,
  ): ((recipient: string) => Promise<PersonalEnvelope>) | null;
}

/** A message ready for delivery (with its scheduled send time, if any), or one that vanished. */
export type Prepared =
  | { kind: "ready"; message: PreparedMessage; deliverAt: number | null }
  | { kind: "missing" };

/**
 * Reads the head of `unit`'s message (the whole message when its headers are longer) and its
 * control headers. Every buffer read or made goes into `buffers`, freed when the attempt ends.
 */
export async function prepareMessage(
  source: BodySource,
  unit: LeasedUnit,
  buffers: Uint8Array[],
): Promise<Prepared> {
  const first = await source.readBodyHead(unit.messageId, HEAD_BYTES);
  if (first === null) return { kind: "missing" };
  buffers.push(first.head);
  // A spooled body is read whole from its segment where the head said, without another query.
  const spooled = first.spooled;
  const readWhole = spooled && source.readSpooled
    ? () => source.readSpooled!(spooled)
    : () => source.readBody(unit.messageId);
  let whole = first.head.byteLength >= first.size ? first.head : null;
  if (whole === null && !headerSectionEnds(first.head)) {
    whole = await readWhole(); // Headers longer than the head: read it all.
    if (whole === null) return { kind: "missing" };
    buffers.push(whole);
  }
  // Control headers steer delivery and are not sent on.
  const control = readControlHeaders(whole ?? first.head);
  const plainBody = whole === null ? null : control.body;
  if (plainBody) buffers.push(plainBody);
  const deliverAt = parseDeliverAt(
    metaString(unit.meta, "deliver_at", "deliverAt") ?? control.values.get("x-fastmta-deliver-at"),
  );
  const message = new Message(source, readWhole, control.values, plainBody, buffers);
  return { kind: "ready", message, deliverAt };
}

/** A prepared message whose bytes to send are made once, when first asked for. */
class Message implements PreparedMessage {
  readonly control: Map<string, string>;
  #source: BodySource;
  #readWhole: () => Promise<Uint8Array | null>;
  #plain: Uint8Array | null;
  #buffers: Uint8Array[];
  #wire: Promise<WireBody> | null = null;

  constructor(
    source: BodySource,
    readWhole: () => Promise<Uint8Array | null>,
    control: Map<string, string>,
    plain: Uint8Array | null,
    buffers: Uint8Array[],
  ) {
    this.#source = source;
    this.#readWhole = readWhole;
    this.control = control;
    this.#plain = plain;
    this.#buffers = buffers;
  }

  wire(): Promise<WireBody> {
    return this.#wire ??= this.#make("");
  }

  personalized(
    unit: LeasedUnit,
    pool: string,
  ): ((recipient: string) => Promise<PersonalEnvelope>) | null {
    const personal = this.#source.personalize?.(unit, pool);
    if (!personal) return null;
    return async (recipient) => {
      const { sender, headers } = personal(recipient);
      return { sender, body: headers === "" ? await this.wire() : await this.#make(headers) };
    };
  }

  async #plainBody(): Promise<Uint8Array | null> {
    if (this.#plain !== null) return this.#plain;
    const stored = await this.#readWhole();
    if (stored === null) return null;
    this.#buffers.push(stored);
    this.#plain = readControlHeaders(stored).body;
    this.#buffers.push(this.#plain);
    return this.#plain;
  }

  /** The bytes to send: `extra` header lines (unless the message has them) first, then signed. */
  async #make(extra: string): Promise<WireBody> {
    let plain = await this.#plainBody();
    if (plain === null) return { missing: true };
    const lines = missingHeaders(plain, extra);
    if (lines !== "") {
      const head = new TextEncoder().encode(lines);
      const joined = new Uint8Array(head.byteLength + plain.byteLength);
      joined.set(head);
      joined.set(plain, head.byteLength);
      this.#buffers.push(joined);
      plain = joined;
    }
    // [dkim hook] signed once per attempt (per recipient when personalized; not for held units).
    if (!this.#source.sign) return { body: plain };
    const signed = await this.#source.sign(plain);
    if ("body" in signed) this.#buffers.push(signed.body);
    return signed;
  }
}

/**
 * `extra` (CRLF-ended header lines) when the message has none of their fields, else "": a
 * message with its own List-Unsubscribe keeps it, and gets no List-Unsubscribe-Post of ours.
 */
function missingHeaders(message: Uint8Array, extra: string): string {
  if (extra === "") return "";
  const head = new TextDecoder().decode(message.subarray(0, 64 * 1024));
  const blank = head.search(/\r?\n\r?\n/);
  const section = blank < 0 ? head : head.slice(0, blank);
  const names = (text: string) =>
    [...text.matchAll(/^([!-9;-~]+):/gm)].map((m) => m[1].toLowerCase());
  const present = new Set(names(section));
  return names(extra).some((name) => present.has(name)) ? "" : extra;
}

/** Whether `head` holds the whole header section (an empty line ends it). */
function headerSectionEnds(head: Uint8Array): boolean {
  if (head[0] === 0x0a || (head[0] === 0x0d && head[1] === 0x0a)) return true;
  for (let i = head.indexOf(0x0a); i >= 0; i = head.indexOf(0x0a, i + 1)) {
    if (head[i + 1] === 0x0a || (head[i + 1] === 0x0d && head[i + 2] === 0x0a)) return true;
  }
  return false;
}
