/**
 * The byte work a large body costs on its way through a node (issue 19 lever 3), CPU per body,
 * for the checkout given (default: this one), so two trees compare in one command:
 * delivery's 8-bit check (`hasEightBit`, done when the server offers 8BITMIME) and wire-ready
 * check (`dataParts`), and the SMTP side's spool write of a batch of 10 messages, each as the
 * own engine hands it on: a prefix and the socket's reads (64 KiB views; a tree without pieces
 * gets them joined first, as its collector did). Fresh bodies in rotation, with the start task's
 * V8 flags, CPU from `process.cpuUsage()` (not wall time: the machine is shared).
 *
 * `deno run -A --v8-flags=--max-semi-space-size=1,--heap-growing-percent=20,--single-threaded-gc
 *   bench/body_path.ts [--tree /work/wt/base] [--size 102400]`
 */
import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  args: Deno.args,
  options: { tree: { type: "string" }, size: { type: "string" } },
});
const tree = new URL(`${args.tree ?? new URL("..", import.meta.url).pathname}/`, "file://");
const size = Number(args.size ?? 102_400);
const body = await import(new URL("core/delivery/smtp_body.ts", tree).href);
const spool = await import(new URL("core/spool/segments.ts", tree).href);
// Since session 10 the accept path takes a body as pieces (core/contracts/message_bytes.ts).
const piecesTaken = await Deno.stat(new URL("core/contracts/message_bytes.ts", tree)).then(
  () => true,
  () => false,
);

function message(seed: number): Uint8Array {
  const line = String.fromCharCode(65 + seed % 26).repeat(78) + "\r\n";
  let text = `From: a@bench.local\r\nTo: b@example.com\r\nSubject: ${seed}\r\n\r\n`;
  while (text.length < size) text += line;
  return new TextEncoder().encode(text);
}

function measure(name: string, rounds: number, f: (i: number) => unknown): void {
  for (let i = 0; i < 200; i++) f(i);
  const start = cpuUsage();
  for (let i = 0; i < rounds; i++) f(i);
  const used = cpuUsage(start);
  console.log(`${name}: ${((used.user + used.system) / rounds).toFixed(1)} µs CPU`);
}

const bodies = Array.from({ length: 64 }, (_, i) => message(i));
measure("hasEightBit", 2000, (i) => body.hasEightBit(bodies[i & 63]));
measure("dataParts (wire-ready body)", 2000, (i) => body.dataParts(bodies[i & 63]));

const prefix = "Received: from client.bench.local (localhost [127.0.0.1]) by mta.bench.local " +
  "with ESMTP id 0123456789; Fri, 4 Dec 2026 19:00:00 +0000\r\n";
function reads(m: Uint8Array): Uint8Array[] {
  const out = [];
  for (let at = 0; at < m.length; at += 65_536) out.push(m.slice(at, at + 65_536));
  return out;
}
const dir = await Deno.makeTempDir({ prefix: "fastmta-body-path-" });
const writer = new spool.SegmentWriter(dir);
const batches = 200;
let cpu = 0;
for (let b = -20; b < batches; b++) {
  const batch = Array.from({ length: 10 }, (_, i) => reads(bodies[(b * 10 + i) & 63]));
  const start = cpuUsage();
  const stored = batch.map((pieces) => {
    const all = [new TextEncoder().encode(prefix), ...pieces];
    if (piecesTaken) return all;
    const joined = new Uint8Array(all.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of all) joined.set(p, (at += p.byteLength) - p.byteLength);
    return joined;
  });
  await writer.append(stored);
  const used = cpuUsage(start);
  if (b >= 0) cpu += used.user + used.system;
}
console.log(
  `spool write of 10 messages, per message (${piecesTaken ? "pieces" : "joined"}): ${
    (cpu / batches / 10).toFixed(1)
  } µs CPU (the process: the write's and fdatasync's threads included)`,
);
await writer.close();
await Deno.remove(dir, { recursive: true });
