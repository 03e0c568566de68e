/**
 * The fuzzer's SMTP sessions: a pure function of (seed, index), so any failing session is
 * reproduced from the two numbers the test prints. A session is a valid transaction taken apart
 * and mutated: commands and parameters garbled, lines made huge, bare CR/LF, NUL and invalid
 * UTF-8 spliced in, huge header sections, MIME bombs under the size limit, pipelining, and an
 * abrupt end in the middle of DATA.
 *
 * @module
 */
import { type Prng, prng } from "../helpers/prng.ts";

/** One fuzzed session: the bytes in write order, and whether the client cuts off after them. */
export interface FuzzSession {
  seed: number;
  index: number;
  /** What was done to it (for the failure message). */
  mutations: string[];
  chunks: Uint8Array[];
  /** Close without QUIT after the last chunk (mid-DATA or mid-line). */
  abrupt: boolean;
}

const enc = new TextEncoder();
const VERBS = [
  "EHLO",
  "HELO",
  "MAIL",
  "RCPT",
  "DATA",
  "RSET",
  "NOOP",
  "VRFY",
  "EXPN",
  "HELP",
  "STARTTLS",
  "AUTH",
  "BDAT",
  "QUIT",
  "XCLIENT",
  "TURN",
  "ETRN",
  "",
];
const ODD_BYTES = [
  [0x00],
  [0xff, 0xfe],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0x0d],
  [0x0a],
  [0x1b, 0x5b, 0x32, 0x4a],
  [0xe2, 0x80, 0xae],
  [0xf4, 0x90, 0x80, 0x80],
];
const PARAMS = [
  "SIZE=999999999999",
  "SIZE=-1",
  "BODY=8BITMIME",
  "BODY=BINARYMIME",
  "SMTPUTF8",
  "RET=FULL",
  "ENVID=x",
  "NOTIFY=NEVER,SUCCESS",
  "ORCPT=rfc822;a@b",
  "AUTH=<>",
  "X=Y=Z",
  "=",
  "SIZE=",
];

function bytes(text: string): Uint8Array {
  return enc.encode(text);
}

/** `parts` joined into one array (no spread: parts may be megabytes). */
function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** `line` with `remove` bytes at `at` replaced by `insert`. */
function splice(line: Uint8Array, at: number, remove: number, insert: Uint8Array | number[]) {
  return concat(line.subarray(0, at), insert, line.subarray(Math.min(line.length, at + remove)));
}

function address(r: Prng, clean: string): string {
  if (r.chance(0.6)) return clean;
  return r.pick([
    "<r@dest.test>",
    "<a@origin.test>",
    "<>",
    "<@route,@x:r@dest.test>",
    '<"q u"@dest.test>',
    "<r@[127.0.0.1]>",
    "r@dest.test",
    "<r@dest.test",
    "<" + "l".repeat(r.int(60, 400)) + "@dest.test>",
    "<r@" + "d".repeat(r.int(60, 300)) + ".test>",
    "<üñí@dest.test>",
    "<r@dest.test> extra",
    "<<>>",
  ]);
}

function headerSection(r: Prng, m: string[]): string {
  const lines = ["From: <a@origin.test>", "To: <r@dest.test>", `Subject: fuzz ${r.int(0, 1e9)}`];
  if (r.chance(0.1)) {
    const n = r.int(1_000, 8_000);
    m.push(`headers×${n}`);
    for (let i = 0; i < n; i++) lines.push(`X-H${i}: ${"v".repeat(r.int(0, 60))}`);
  }
  if (r.chance(0.1)) {
    m.push("folded-header");
    lines.push("X-Fold: a" + "\r\n\tb".repeat(r.int(100, 5_000)));
  }
  return lines.join("\r\n");
}

function mimeBomb(r: Prng, m: string[]): string {
  const depth = r.int(5, 60);
  m.push(`mime-depth-${depth}`);
  let body = "leaf\r\n";
  for (let d = depth; d > 0; d--) {
    const b = `b${d}`;
    const parts = r.int(1, 4);
    body = `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n` +
      Array.from({ length: parts }, () => `--${b}\r\n${body}`).join("\r\n") + `\r\n--${b}--\r\n`;
    if (body.length > 300_000) break; // well under the size limit
  }
  return "MIME-Version: 1.0\r\n" + body;
}

function body(r: Prng, m: string[]): string {
  const kind = r.int(0, 5);
  if (kind === 0) return mimeBomb(r, m);
  if (kind === 1) {
    m.push("long-body-line");
    return "x".repeat(r.int(1_000, 100_000)) + "\r\n";
  }
  if (kind === 2) {
    m.push("dots");
    return ".\r\n..\r\n. \r\n.x\r\n";
  }
  return "Hello fuzz.\r\n";
}

/** Splices odd bytes, cuts, repeats and case changes into one line. */
function mutateLine(r: Prng, line: Uint8Array, m: string[]): Uint8Array {
  let out = line;
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) {
    const at = r.int(0, out.length);
    switch (r.int(0, 6)) {
      case 0:
        out = splice(out, at, 0, r.pick(ODD_BYTES));
        m.push("odd-bytes");
        break;
      case 1:
        out = splice(out, at, r.int(1, 8), []);
        m.push("cut");
        break;
      case 2:
        out = splice(out, at, 0, bytes("A".repeat(r.chance(0.1) ? 70_000 : r.int(500, 5_000))));
        m.push("long-line");
        break;
      case 3:
        out = splice(out, at, 0, bytes(" " + r.pick(PARAMS)));
        m.push("param");
        break;
      case 4:
        out = splice(out, at, 0, [r.int(0, 255)]);
        m.push("byte");
        break;
      default:
        out = splice(out, at, 0, bytes(r.pick(["\t", " ", ":", "<", ">", "\\", '"', "%", "@"])));
        m.push("punct");
    }
  }
  return out;
}

/** The session with number `index` of the run with `seed`. */
export function fuzzSession(seed: number, index: number): FuzzSession {
  const r = prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const mutations: string[] = [];
  const lines: Uint8Array[] = [
    bytes(`${r.pick(["EHLO", "HELO", "ehlo"])} fuzz.test`),
    bytes(`MAIL FROM:${address(r, "<a@origin.test>")}${r.chance(0.3) ? " " + r.pick(PARAMS) : ""}`),
    bytes(`RCPT TO:${address(r, "<r@dest.test>")}${r.chance(0.2) ? " " + r.pick(PARAMS) : ""}`),
    bytes("DATA"),
  ];
  const data = bytes(headerSection(r, mutations) + "\r\n\r\n" + body(r, mutations));
  // Mutate some command lines, and sometimes swap in a random verb.
  for (let i = 0; i < lines.length; i++) {
    if (r.chance(0.2)) lines[i] = mutateLine(r, lines[i], mutations);
    if (r.chance(0.05)) lines[i] = bytes(`${r.pick(VERBS)} ${r.pick(PARAMS)}`);
  }
  if (r.chance(0.15)) {
    mutations.push("extra-commands");
    lines.splice(r.int(0, lines.length), 0, bytes(`${r.pick(VERBS)} ${address(r, "")}`));
  }
  const lineEnd = () => {
    if (r.chance(0.04)) {
      mutations.push("bare-lf");
      return [0x0a];
    }
    if (r.chance(0.02)) {
      mutations.push("bare-cr");
      return [0x0d];
    }
    return [0x0d, 0x0a];
  };
  const parts: (Uint8Array | number[])[] = [];
  for (const line of lines) parts.push(line, lineEnd());
  // The message body: bare CR/LF and odd bytes inside, then the end of data.
  parts.push(r.chance(0.2) ? mutateLine(r, data, mutations) : data, bytes("\r\n.\r\n"));
  const abrupt = r.chance(0.15);
  if (!abrupt) parts.push(bytes(r.chance(0.9) ? "QUIT\r\n" : "NOOP\r\n"));
  let stream = concat(...parts);
  if (abrupt) {
    mutations.push("abrupt");
    stream = stream.subarray(0, r.int(0, stream.length));
  }
  // Split into chunks at random points (pipelining and partial reads).
  const chunks: Uint8Array[] = [];
  let at = 0;
  while (at < stream.length) {
    const size = r.chance(0.3) ? r.int(1, 64) : r.int(64, 256 * 1024);
    chunks.push(stream.slice(at, at + size));
    at += size;
  }
  return { seed, index, mutations, chunks, abrupt };
}
