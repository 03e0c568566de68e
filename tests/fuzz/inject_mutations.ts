/**
 * The fuzzer's inject-queue messages (RabbitMQ `<prefix>.inject`): half are the inject v1
 * documents of json_mutations.ts, half are cases only an AMQP publisher can send or that must be
 * refused whatever else they hold — no body, bad or CR/LF-laden addresses, huge fields, wrong
 * types, odd AMQP properties. A pure function of (seed, index); `mustRefuse` marks the ones that
 * have to be dead-lettered.
 *
 * @module
 */
import { prng } from "../helpers/prng.ts";
import { fuzzJson } from "./json_mutations.ts";

/** One inject-queue message to publish. */
export interface InjectCase {
  body: Uint8Array;
  note: string;
  /** True when the message must be dead-lettered (no valid reading exists). */
  mustRefuse: boolean;
  contentType?: string;
  headers?: Record<string, unknown>;
}

const BAD_ADDRESSES = [
  "no-at-sign",
  "@dest.test",
  "r@",
  "r@dest.test\r\nBcc: victim@dest.test",
  "r\n@dest.test",
  "r@dest.test\u0000",
  "<r@dest.test",
  "r@@dest.test",
  "r@" + "d".repeat(300) + ".test",
  "x".repeat(100_000) + "@dest.test",
];

/** Message `index` of the run with `seed`, to be sent to `to`. */
export function fuzzInject(seed: number, index: number, to: string): InjectCase {
  const r = prng((seed ^ Math.imul(index + 11, 0x9e3779b1)) >>> 0);
  const props = r.chance(0.2)
    ? {
      contentType: r.pick(["text/plain", "", "application/json; charset=latin1"]),
      headers: { "x-app": r.pick(["a", "\r\n", { nested: [1, 2] }, 1e308, null]) },
    }
    : {};
  if (r.chance(0.5)) {
    const { body, note } = fuzzJson(seed, index);
    return { body, note: `json:${note}`, mustRefuse: false, ...props };
  }
  const base = { from: "app@origin.test", to: [to], subject: `inject fuzz ${index}` };
  const [note, doc] = r.pick<() => [string, unknown]>([
    () => ["no-body", base],
    () => ["bad-from", { ...base, from: r.pick(BAD_ADDRESSES), text: "x" }],
    () => ["bad-to", { ...base, to: [r.pick(BAD_ADDRESSES)], text: "x" }],
    () => ["to-string-crlf", { ...base, to: `${to}\r\nRCPT TO:<victim@dest.test>`, text: "x" }],
    () => ["to-number", { ...base, to: 42, text: "x" }],
    () => ["to-empty", { ...base, to: [], text: "x" }],
    () => ["from-missing", { to: [to], text: "x" }],
    () => ["text-number", { ...base, text: 1 }],
    () => ["raw-object", { ...base, raw: { a: 1 } }],
    () => ["raw-base64-bad", { ...base, raw_base64: "!!!not base64!!!" }],
    () => ["huge-raw", {
      ...base,
      raw: "Subject: x\r\n\r\n" + "y".repeat(r.int(1_100, 3_000) * 1_024),
    }],
    () => ["huge-header-name", { ...base, headers: { ["X".repeat(100_000)]: "v" }, text: "x" }],
    () => ["header-crlf", { ...base, headers: { "X-A": "v\r\nBcc: victim@dest.test" }, text: "x" }],
    () => ["subject-crlf", { ...base, subject: "s\r\nBcc: victim@dest.test", text: "x" }],
    () => ["priority-string", { ...base, priority: "high", text: "x" }],
    () => ["array-doc", [base]],
  ])();
  return {
    body: new TextEncoder().encode(JSON.stringify(doc)),
    note,
    mustRefuse: true,
    ...props,
  };
}
