/**
 * Network and filesystem helpers for tests: free ports, waiting for a port to
 * accept connections, unique loopback addresses and self-removing temp dirs.
 *
 * @module
 */

import { delay } from "./wait.ts";

/** Ports {@link freePort} already handed out in this process. */
const handedOut = new Set<number>();

/**
 * Returns a TCP port that is free right now on `hostname` and that this process has not been
 * given before: binds port 0, reads the port the kernel chose, and closes the listener again.
 *
 * The kernel may choose the same port again once the listener is closed: a cluster test that
 * picked both nodes' ports before starting either got one SMTP port twice (EADDRINUSE on the
 * second node, CI 2026-12-08), so a port already handed out is skipped. Another process may
 * still take the port before the caller binds it; that race is rare.
 */
export function freePort(hostname = "127.0.0.1"): number {
  for (let attempt = 0; attempt < 100; attempt++) {
    const listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`freePort: no port not handed out before on ${hostname} after 100 tries`);
}

/**
 * Polls until a TCP connection to `hostname:port` succeeds (every
 * `intervalMs`, default 20 ms). Rejects with a descriptive error once
 * `timeoutMs` has elapsed, or as soon as `signal` aborts.
 */
export async function waitForPort(
  hostname: string,
  port: number,
  timeoutMs = 10_000,
  opts: { intervalMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    opts.signal?.throwIfAborted();
    try {
      const conn = await Deno.connect({ hostname, port, transport: "tcp" });
      conn.close();
      return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `waitForPort: ${hostname}:${port} did not accept connections within ${timeoutMs} ms ` +
          `(last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`,
      );
    }
    await delay(intervalMs, opts.signal);
  }
}

let loopbackBase: number | undefined;
let loopbackCounter = 0;

/**
 * Returns a loopback address (127.x.y.z) that no earlier call in this process
 * returned. The sequence starts at a random base inside 127.100.0.0 –
 * 127.200.255.255 so that test files running in separate processes rarely
 * collide; it never yields 127.0.0.1, nor host parts 0 or 255.
 */
export function uniqueLoopbackIp(): string {
  if (loopbackBase === undefined) {
    const x = 100 + Math.floor(Math.random() * 101); // 100..200
    const y = Math.floor(Math.random() * 256);
    loopbackBase = (x << 16) | (y << 8);
  }
  while (true) {
    // Walk forward through 127.100.0.0 .. 127.200.255.255, wrapping around.
    const span = 101 << 16;
    const offset = ((loopbackBase - (100 << 16)) + loopbackCounter++) % span;
    const value = (100 << 16) + offset;
    const x = (value >> 16) & 0xff;
    const y = (value >> 8) & 0xff;
    const z = value & 0xff;
    if (z === 0 || z === 255) continue;
    return `127.${x}.${y}.${z}`;
  }
}

/** A temporary directory that removes itself (recursively) when disposed. */
export interface TempDir extends AsyncDisposable {
  /** Absolute path of the directory. */
  readonly path: string;
}

/**
 * Creates a fresh temporary directory. Use with `await using`:
 *
 * ```ts
 * await using dir = tempDir("fastmta-test-");
 * ```
 *
 * Disposal removes the directory and everything below it; a directory that is
 * already gone is not an error.
 */
export function tempDir(prefix = "fastmta-test-"): TempDir {
  const path = Deno.makeTempDirSync({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      try {
        await Deno.remove(path, { recursive: true });
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    },
  };
}
