/**
 * The delivery sink as seen by the harness: either our counting sink (`bench/sink.ts`, counts
 * messages and recipients exactly, reports the arrival time of the last message) or Postfix's
 * `smtp-sink -c` (counts messages only; arrival time = when the harness read the counter).
 */
import { now, smtpGreets, spawn, splitHostPort, type Tracked, waitFor } from "./util.ts";

/** Which sink implementation. */
export type SinkKind = "own" | "smtp-sink";

/** Counters as last reported by the sink. */
export interface SinkSnapshot {
  /** Messages received. */
  msgs: number;
  /** Recipients received (NaN for smtp-sink, which does not count them). */
  rcpts: number;
  /** Null-sender messages received (NaN for smtp-sink). */
  bounces: number;
  /** Wall clock (ms since the epoch) of the last counted arrival. */
  lastAt: number;
  /** Messages refused with 4xx / 5xx by the realistic sink (0 otherwise; NaN for smtp-sink). */
  tempFails: number;
  /** See tempFails. */
  permFails: number;
}

/** The realistic sink's refusal shares (bench/sink.ts `--temp-fail` / `--perm-fail`). */
export interface SinkFailures {
  /** Percent answered 451 once. */
  tempPct: number;
  /** Percent answered 550. */
  permPct: number;
}

/** Path of smtp-sink. */
export const SMTP_SINK = "/usr/sbin/smtp-sink";

/** A running sink process. */
export class SinkProcess {
  /** Implementation. */
  readonly kind: SinkKind;
  /** Listening address. */
  readonly addr: string;
  /** The process. */
  readonly proc: Tracked;
  /** Wall clock at which it was ready. */
  readyAt = 0;
  #snap: SinkSnapshot = { msgs: 0, rcpts: 0, bounces: 0, lastAt: 0, tempFails: 0, permFails: 0 };
  #ready = false;
  #reader: Promise<void>;

  private constructor(kind: SinkKind, addr: string, proc: Tracked) {
    this.kind = kind;
    this.addr = addr;
    this.proc = proc;
    if (kind === "smtp-sink") {
      this.#snap = { msgs: 0, rcpts: NaN, bounces: NaN, lastAt: 0, tempFails: NaN, permFails: NaN };
    }
    this.#reader = this.#read();
  }

  /** Starts a sink and waits (bounded) until it accepts connections. */
  static async start(
    kind: SinkKind,
    addr: string,
    failures?: SinkFailures,
    timeoutMs = 60_000,
  ): Promise<SinkProcess> {
    splitHostPort(addr);
    if (failures && kind !== "own") throw new Error("a sink that refuses mail needs --sink own");
    const failArgs = failures
      ? ["--temp-fail", String(failures.tempPct), "--perm-fail", String(failures.permPct)]
      : [];
    const proc = kind === "own"
      ? spawn("sink", Deno.execPath(), [
        "run",
        "--allow-net",
        "--no-prompt",
        new URL("./sink.ts", import.meta.url).pathname,
        "--listen",
        addr,
        ...failArgs,
      ], { stdout: "piped", stderr: "inherit" })
      : spawn("smtp-sink", SMTP_SINK, ["-c", "-u", "nobody", addr, "1024"], {
        stdout: "piped",
        stderr: "inherit",
      });
    const sink = new SinkProcess(kind, addr, proc);
    const ok = await waitFor(
      async () => {
        if (kind === "smtp-sink" && !sink.#ready) sink.#ready = await smtpGreets(addr, 500);
        return sink.#ready || proc.status.exited;
      },
      timeoutMs,
      10,
    );
    if (!ok || !sink.#ready) {
      await sink.stop();
      throw new Error(`${kind} sink on ${addr} did not start`);
    }
    sink.readyAt = now();
    return sink;
  }

  async #read(): Promise<void> {
    const dec = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of this.proc.child.stdout) {
        const at = now();
        pending += dec.decode(chunk, { stream: true });
        const parts = pending.split(/[\r\n]/);
        pending = parts.pop() ?? "";
        for (const line of parts) this.#line(line, at);
        // smtp-sink ends each update with "\r"; an unterminated tail is not yet complete
      }
    } catch { /* process killed */ }
  }

  #line(line: string, at: number): void {
    if (this.kind === "own") {
      if (line.startsWith("READY")) this.#ready = true;
      else if (line.startsWith("C ")) {
        const [, m, r, b, t, tf, pf] = line.split(" ");
        this.#snap = {
          msgs: Number(m),
          rcpts: Number(r),
          bounces: Number(b),
          lastAt: Number(t),
          tempFails: Number(tf ?? 0),
          permFails: Number(pf ?? 0),
        };
      }
      return;
    }
    const m = /mesg=(\d+)/.exec(line);
    if (m && Number(m[1]) !== this.#snap.msgs) {
      this.#snap = {
        msgs: Number(m[1]),
        rcpts: NaN,
        bounces: NaN,
        lastAt: at,
        tempFails: NaN,
        permFails: NaN,
      };
    }
  }

  /** Latest counters. */
  get counts(): SinkSnapshot {
    return { ...this.#snap };
  }

  /** True if the sink counts recipients (own sink). */
  get countsRecipients(): boolean {
    return this.kind === "own";
  }

  /**
   * Waits until at least `msgs` messages / `rcpts` recipients (whichever the sink counts:
   * recipients for our sink, messages for smtp-sink) have arrived, or `timeoutMs` passes, or the
   * sink dies. Returns the snapshot and whether the target was reached.
   */
  async waitFor(
    target: { msgs: number; rcpts: number; done?: (s: SinkSnapshot) => boolean },
    timeoutMs: number,
    progress?: (s: SinkSnapshot) => void,
  ): Promise<{ reached: boolean; snap: SinkSnapshot }> {
    const reached = () =>
      target.done
        ? target.done(this.#snap)
        : this.countsRecipients
        ? this.#snap.rcpts >= target.rcpts
        : this.#snap.msgs >= target.msgs;
    let lastProgress = Date.now();
    const ok = await waitFor(
      () => {
        if (progress && Date.now() - lastProgress > 10_000) {
          lastProgress = Date.now();
          progress(this.counts);
        }
        return reached() || this.proc.status.exited;
      },
      timeoutMs,
      20,
    );
    if (ok && !reached()) throw new Error(`${this.kind} sink exited unexpectedly`);
    return { reached: ok, snap: this.counts };
  }

  /** Stops the sink process. */
  async stop(): Promise<void> {
    await this.proc.stop(5_000);
    await Promise.race([this.#reader, new Promise((r) => setTimeout(r, 1_000))]);
  }
}
