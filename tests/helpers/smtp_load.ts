/**
 * A load generator for end-to-end tests: Python smtplib on several connections (threads) spread
 * over several servers, one message per transaction with a unique subject `<prefix><i>`. Like a
 * real client it retries a message after a 4xx or a broken connection (moving to the next
 * server), so "accepted" means exactly: a server said 250 for it. It sends `count` messages, or
 * fewer if stopped earlier (`stop()`: no new message starts, those in progress finish).
 *
 * @module
 */

/** Options for {@link runSmtpLoad}. */
export interface SmtpLoadOptions {
  /** Servers as "host:port"; connection k starts on server k mod n. */
  servers: string[];
  count: number;
  connections: number;
  /** Recipient of every message. */
  to: string;
  /** Subject prefix; message i has subject `<prefix><i>`. */
  prefix: string;
  /** Called as 250s come in (with the number accepted so far); must not block. */
  onProgress?: (accepted: number) => void;
}

/** A running load. */
export interface SmtpLoad {
  /** Resolves when every started message is done. */
  readonly result: Promise<SmtpLoadResult>;
  /** Messages accepted so far. */
  readonly acceptedCount: number;
  /** 4xx answers so far. */
  readonly temporaryFailures: number;
  /** Starts no further message. */
  stop(): void;
}

/** What the load achieved. */
export interface SmtpLoadResult {
  /** Subject → queue id of every message a server answered 250 for. */
  accepted: Map<string, string>;
  /** 4xx answers (each retried). */
  temporaryFailures: number;
  /** Broken connections (each retried on the next server). */
  connectionErrors: number;
  /** Messages refused with a 5xx. */
  failed: number;
  /** Messages given up after 600 4xx answers in a row (a client's patience, not a refusal). */
  gaveUp: number;
  elapsedMs: number;
}

const SCRIPT = `
import json, smtplib, sys, threading, time
servers = json.loads(sys.argv[1]); count = int(sys.argv[2]); conns = int(sys.argv[3])
rcpt = sys.argv[4]; prefix = sys.argv[5]
lock = threading.Lock(); state = {"next": 0, "stop": False}
def watch_stdin():
    sys.stdin.read()
    state["stop"] = True
threading.Thread(target=watch_stdin, daemon=True).start()
def out(line):
    with lock:
        sys.stdout.write(line + "\\n"); sys.stdout.flush()
def worker(w):
    t = w % len(servers); s = None
    while True:
        with lock:
            i = state["next"]
            if i >= count or state["stop"]: break
            state["next"] = i + 1
        msg = "From: <load@origin.test>\\r\\nTo: <%s>\\r\\nSubject: %s%d\\r\\nMessage-ID: <%s%d@origin.test>\\r\\n\\r\\nload body %d\\r\\n" % (rcpt, prefix, i, prefix, i, i)
        done = False
        for attempt in range(600):
            try:
                if s is None:
                    host, port = servers[t].rsplit(":", 1)
                    s = smtplib.SMTP(host, int(port), timeout=30); s.ehlo("load.test")
                c, r = s.mail("load@origin.test")
                if c == 250:
                    c, r = s.rcpt(rcpt)
                if c in (250, 251):
                    c, r = s.data(msg)
                if c == 250:
                    out("%d 250 %s" % (i, r.decode())); done = True; break
                if 400 <= c < 500:
                    out("%d %d" % (i, c)); s.rset(); time.sleep(0.05); continue
                out("%d %d FAIL" % (i, c)); s.rset(); break
            except (smtplib.SMTPException, OSError) as e:
                out("%d ERR %s" % (i, str(e).replace("\\n", " ")))
                try:
                    s.close()
                except Exception:
                    pass
                s = None; t = (t + 1) % len(servers); time.sleep(0.05)
        if not done and attempt == 599:
            out("%d GAVEUP" % i)
    if s is not None:
        try:
            s.quit()
        except Exception:
            pass
threads = [threading.Thread(target=worker, args=(w,)) for w in range(conns)]
for th in threads: th.start()
for th in threads: th.join()
`;

/** Starts sending; see {@link SmtpLoad}. */
export function startSmtpLoad(opts: SmtpLoadOptions): SmtpLoad {
  const started = Date.now();
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      SCRIPT,
      JSON.stringify(opts.servers),
      String(opts.count),
      String(opts.connections),
      opts.to,
      opts.prefix,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    stdin.close().catch(() => {});
  };
  const stderr = new Response(child.stderr).text();
  const totals: SmtpLoadResult = {
    accepted: new Map(),
    temporaryFailures: 0,
    connectionErrors: 0,
    failed: 0,
    gaveUp: 0,
    elapsedMs: 0,
  };
  const run = async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      let progressed = false;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const ok = line.match(/^(\d+) 250 .*queued as (\S+)/);
        if (ok) {
          totals.accepted.set(`${opts.prefix}${ok[1]}`, ok[2]);
          progressed = true;
        } else if (/^\d+ 4\d\d$/.test(line)) totals.temporaryFailures++;
        else if (/^\d+ ERR /.test(line)) totals.connectionErrors++;
        else if (/GAVEUP/.test(line)) totals.gaveUp++;
        else if (/FAIL/.test(line)) totals.failed++;
      }
      if (progressed) opts.onProgress?.(totals.accepted.size);
    }
    const status = await child.status;
    stop();
    const errors = await stderr;
    if (!status.success) throw new Error(`load generator failed: ${errors}`);
    totals.elapsedMs = Date.now() - started;
    return totals;
  };
  return {
    result: run(),
    get acceptedCount() {
      return totals.accepted.size;
    },
    get temporaryFailures() {
      return totals.temporaryFailures;
    },
    stop,
  };
}

/** Sends `count` messages and reports which were accepted. */
export function runSmtpLoad(opts: SmtpLoadOptions): Promise<SmtpLoadResult> {
  return startSmtpLoad(opts).result;
}

/** Counts how often each subject `<prefix><i>` reached a sink. */
export function countSubjects(texts: Iterable<string>, prefix: string): Map<string, number> {
  const counts = new Map<string, number>();
  const pattern = new RegExp(`^Subject: (${prefix}\\d+)`, "m");
  for (const text of texts) {
    const subject = text.match(pattern)?.[1];
    if (subject) counts.set(subject, (counts.get(subject) ?? 0) + 1);
  }
  return counts;
}
