/**
 * The own SMTP engine's JavaScript alone (issue #19): sessions (EHLO, MAIL, RCPT × n, DATA with a
 * 5 KB body, QUIT) fed to core/inbound/engine/connection.ts through a fake socket, handlers that
 * answer at once; no node:net, no kernel. Prints CPU µs per session after a warm-up. With
 * `--trace-gc` in the V8 flags, the number of scavenges counts the young-generation bytes the
 * engine allocates (1 MB each with the server's flags), which the machine's load does not move:
 *
 *     deno run -A --config <tree>/deno.json --v8-flags=--max-semi-space-size=1,\
 *       --heap-growing-percent=20,--single-threaded-gc,--trace-gc bench/engine_micro.ts \
 *       <tree> 20000 1 2>&1 | grep -c Scavenge
 *
 * `<tree>`: the checkout whose engine runs (A/B: this file run against two trees).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import process from "node:process";

const [treeArg, sessionsText = "20000", rcptsText = "1"] = Deno.args;
const tree = !treeArg
  ? new URL("..", import.meta.url).pathname
  : treeArg.startsWith("/")
  ? treeArg
  : `${Deno.cwd()}/${treeArg}`;
const { Connection } = await import(`${tree}/core/inbound/engine/connection.ts`);
const sessions = Number(sessionsText);
const rcpts = Number(rcptsText);

class FakeSocket extends EventEmitter {
  destroyed = false;
  writable = true;
  writableNeedDrain = false;
  remoteAddress = "127.0.0.9";
  remotePort = 40000;
  localAddress = "127.0.0.1";
  localPort = 25;
  bytes = 0;
  setNoDelay() {}
  pause() {}
  resume() {}
  write(data: string | Uint8Array) {
    this.bytes += data.length;
    return true;
  }
  end(cb?: () => void) {
    this.writable = false;
    cb?.();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit("close");
  }
}

const options = {
  name: "mta.test",
  banner: "fastmta",
  secure: false,
  key: "",
  cert: "",
  size: 52428800,
  authMethods: ["PLAIN", "LOGIN"],
  allowInsecureAuth: false,
  disabledCommands: ["WIZ", "SHELL", "KILL", "XCLIENT", "XFORWARD"],
  maxClients: 1000,
  maxCommandLength: 4096,
  idleTimeoutMs: 300000,
  greetingDelayMs: 0,
  maxErrors: 10,
  commandTimeoutMs: 300000,
  dataTimeoutMs: 600000,
  closeTimeoutMs: 10000,
};
const ok = (...args: unknown[]) => (args.at(-1) as (e?: null) => void)();
const disabled = [...options.disabledCommands, "AUTH"];
const handlers = {
  onConnect: (session: { disabledCommands?: string[] }, cb: () => void) => {
    session.disabledCommands = disabled;
    cb();
  },
  onSecure: ok,
  onClose: () => {},
  onAuth: ok,
  onMailFrom: ok,
  onRcptTo: ok,
  onData: (
    stream: { on(e: string, f: (x?: Uint8Array) => void): void },
    _s: unknown,
    cb: (e: null, m: string) => void,
  ) => {
    let n = 0;
    stream.on("data", (c) => n += c!.length);
    stream.on("end", () => cb(null, `2.0.0 Ok: queued as 239F5TT86SQ8MHC${n % 10}`));
  },
};
const host = {
  options,
  handlers,
  connections: new Set(),
  shuttingDown: false,
  tlsOptions: () => ({}),
  onError: (e: Error) => console.error(e),
};
const body = "Subject: x\r\n\r\n" +
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n".repeat(80);
const reads = [
  "EHLO client.test\r\n",
  "MAIL FROM:<a@bench.local>\r\n",
  ...Array.from({ length: rcpts }, (_, i) => `RCPT TO:<b${i}@example.com>\r\n`),
  "DATA\r\n",
  body + "\r\n.\r\n",
  "QUIT\r\n",
].map((s) => Buffer.from(s, "latin1"));

let written = 0;
function session(): void {
  const socket = new FakeSocket();
  const c = new Connection(host, socket);
  host.connections.add(c);
  c.start();
  for (const r of reads) socket.emit("data", r);
  written += socket.bytes;
}

async function run(n: number): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    session();
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 0)); // onClose's setImmediate
  }
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}
await run(Math.min(5000, sessions));
const us = await run(sessions);
console.log(
  `${tree} sessions=${sessions} rcpts=${rcpts}: ${
    us.toFixed(2)
  } us CPU/session (written ${written})`,
);
Deno.exit(0);
