/**
 * Small helpers for the benchmark harness: a cleanup registry (runs on normal exit, on error and on
 * SIGINT/SIGTERM), tracked child processes, bounded waits and SMTP readiness probes.
 */

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wall clock in ms since the epoch, sub-millisecond resolution. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Splits "host:port". */
export function splitHostPort(addr: string): { host: string; port: number } {
  const colon = addr.lastIndexOf(":");
  const port = Number(addr.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`bad address ${JSON.stringify(addr)} (expected host:port)`);
  }
  return { host: addr.slice(0, colon), port };
}

/** Throws unless `host` is an IPv4 loopback address (all benchmark traffic stays on 127/8). */
export function assertLoopback(addr: string): void {
  const { host } = splitHostPort(addr);
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new Error(`${addr}: only 127.0.0.0/8 addresses are allowed`);
  }
}

type CleanupFn = () => void | Promise<void>;

/** Cleanup actions run in reverse order of registration; each runs at most once. */
export class Cleanup {
  #actions: { name: string; fn: CleanupFn }[] = [];
  #running: Promise<void> | undefined;
  #closed = false;

  /** Refuses further registrations (so nothing new starts while aborting). */
  close(): void {
    this.#closed = true;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Registers an action; returns a function that unregisters it. Throws once closed. */
  add(name: string, fn: CleanupFn): () => void {
    if (this.#closed) throw new Error(`aborting: not starting ${name}`);
    const entry = { name, fn };
    this.#actions.push(entry);
    return () => {
      const i = this.#actions.indexOf(entry);
      if (i >= 0) this.#actions.splice(i, 1);
    };
  }

  /** Runs (once) every registered action, newest first; errors are logged, not thrown. */
  runAll(): Promise<void> {
    this.#running ??= (async () => {
      while (this.#actions.length > 0) {
        const { name, fn } = this.#actions.pop()!;
        try {
          await fn();
        } catch (e) {
          console.error(`cleanup ${name}: ${(e as Error).message}`);
        }
      }
      this.#running = undefined;
    })();
    return this.#running;
  }
}

/** The harness-wide cleanup registry. */
export const cleanup: Cleanup = new Cleanup();

/** A child process started by the harness, killed by the cleanup registry if still running. */
export class Tracked {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Display name. */
  readonly name: string;
  #exited = false;
  #code: number | undefined;
  #unregister: () => void;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number>;

  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.child = child;
    this.exited = child.status.then((s) => {
      this.#exited = true;
      this.#code = s.code;
      return s.code;
    });
    this.#unregister = cleanup.add(`kill ${name} (${child.pid})`, () => this.stop());
  }

  /** Process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** Whether the process has exited (and its exit code). */
  get status(): { exited: boolean; code?: number } {
    return { exited: this.#exited, code: this.#code };
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL; waits for exit (bounded). */
  async stop(graceMs = 10_000): Promise<void> {
    this.#unregister();
    if (!this.#exited) {
      try {
        this.child.kill("SIGTERM");
      } catch { /* already gone */ }
      if (!(await waitFor(() => this.#exited, graceMs, 25))) {
        try {
          this.child.kill("SIGKILL");
        } catch { /* already gone */ }
        await waitFor(() => this.#exited, 5_000, 25);
      }
    }
  }
}

/** Spawns a tracked process; stdout/stderr as given (default: discarded). */
export function spawn(
  name: string,
  cmd: string,
  args: string[],
  opts: Omit<Deno.CommandOptions, "args"> = {},
): Tracked {
  if (cleanup.closed) throw new Error(`aborting: not starting ${name}`);
  const child = new Deno.Command(cmd, {
    stdin: "null",
    stdout: "null",
    stderr: "null",
    ...opts,
    args,
  }).spawn();
  return new Tracked(name, child);
}

/** Polls `cond` every `stepMs` until it is true or `timeoutMs` elapsed; returns the last value. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 50,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}

/** Runs a command to completion (bounded by `timeoutMs`); returns code and output. */
export async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    env: opts.env,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, opts.timeoutMs ?? 120_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects to an SMTP server, reads the greeting and sends QUIT. True if a 220 greeting arrived
 * within `timeoutMs`.
 */
export async function smtpGreets(addr: string, timeoutMs = 2_000): Promise<boolean> {
  const { host, port } = splitHostPort(addr);
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => {
    try {
      conn?.close();
    } catch { /* closed */ }
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname: host, port });
    const buf = new Uint8Array(512);
    const n = await conn.read(buf);
    const ok = n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("220");
    if (ok) await conn.write(new TextEncoder().encode("QUIT\r\n")).catch(() => 0);
    return ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** True if something accepts TCP connections on `addr`. */
export async function portInUse(addr: string): Promise<boolean> {
  const { host, port } = splitHostPort(addr);
  try {
    const conn = await Deno.connect({ hostname: host, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Median of numbers (NaN for none); ignores NaN entries. */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
