/**
 * Sending test mail with real third-party SMTP clients: `swaks` and Python's
 * `smtplib`. Both return the queue id parsed from the final
 * "250 ... queued as ID" reply.
 *
 * @module
 */

/** Options shared by {@link sendWithSwaks} and {@link sendWithSmtplib}. */
export interface SendOptions {
  /** Server as "host:port". */
  server: string;
  /** Envelope sender ("" for the null sender). */
  from: string;
  /** Envelope recipients. */
  to: string[];
  /**
   * The full RFC 5322 message. Bare LF line ends are turned into CRLF by both
   * clients; a message ending in CRLF arrives byte-exact.
   */
  data: string;
  /** EHLO name (default: the client's own default). */
  helo?: string;
  /** Source IP to connect from (any 127.x.y.z works on Linux loopback). */
  localAddress?: string;
  /** Give up after this many seconds (default 30). */
  timeoutSec?: number;
}

/** Result of {@link sendWithSwaks}. */
export interface SwaksResult {
  /** swaks exit code (0 = delivered, see `man swaks` for the others). */
  code: number;
  /** swaks transcript. */
  stdout: string;
  /** swaks diagnostics. */
  stderr: string;
  /** Id from a "250 ... queued as ID" reply, if any. */
  queueId?: string;
}

/** Options for {@link sendWithSwaks}. */
export interface SwaksOptions extends SendOptions {
  /** Use PIPELINING (`--pipeline`). */
  pipeline?: boolean;
  /** Extra swaks arguments, appended last. */
  extraArgs?: string[];
}

const QUEUED_AS = /queued as ([^\s,;]+?)[.)\]]?(?:\s|$)/i;

/** Parses "queued as ID" out of a reply line, or returns undefined. */
export function parseQueueId(reply: string): string | undefined {
  return reply.match(QUEUED_AS)?.[1];
}

/**
 * Sends one message with `swaks` (which must be on PATH). The message goes in
 * through stdin (`--data -`); one trailing line break is removed first
 * because swaks always adds CRLF before the final dot.
 */
export async function sendWithSwaks(opts: SwaksOptions): Promise<SwaksResult> {
  const args = [
    "--server",
    opts.server,
    "--from",
    opts.from === "" ? "<>" : opts.from,
    "--to",
    opts.to.join(","),
    "--data",
    "-",
    "--timeout",
    String(opts.timeoutSec ?? 30),
    "--suppress-data",
  ];
  if (opts.helo) args.push("--helo", opts.helo);
  if (opts.localAddress) args.push("--local-interface", opts.localAddress);
  if (opts.pipeline) args.push("--pipeline");
  if (opts.extraArgs) args.push(...opts.extraArgs);

  const child = new Deno.Command("swaks", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).spawn();
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(opts.data.replace(/\r?\n$/, "")));
  } finally {
    await writer.close().catch(() => {});
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let queueId: string | undefined;
  for (const line of stdout.split("\n")) {
    if (/^<-\s+2\d\d[ -]/.test(line)) queueId = parseQueueId(line) ?? queueId;
  }
  return { code: out.code, stdout, stderr, queueId };
}

/** An SMTP reply as seen by smtplib. */
export interface SmtpReply {
  /** Reply code. */
  code: number;
  /** Reply text without the code (lines joined with "\n"). */
  text: string;
}

/** Result of {@link sendWithSmtplib}. */
export interface SmtplibResult {
  /** 0 = DATA accepted, 1 = an SMTP reply refused it, 2 = error (see stderr). */
  code: number;
  /** JSON printed by the script (already parsed into the fields below). */
  stdout: string;
  /** Python traceback / error message, if any. */
  stderr: string;
  /** Id from the "250 ... queued as ID" reply to DATA, if any. */
  queueId?: string;
  /** Reply to MAIL FROM. */
  mailReply?: SmtpReply;
  /** Replies to each RCPT TO, in order. */
  rcptReplies?: SmtpReply[];
  /** Reply to the end of DATA (or to DATA if it was refused). */
  dataReply?: SmtpReply;
}

/** Options for {@link sendWithSmtplib}. */
export interface SmtplibOptions extends SendOptions {
  /** MAIL FROM parameters, e.g. ["SMTPUTF8", "BODY=8BITMIME"]. */
  mailOptions?: string[];
  /** Issue STARTTLS (certificate not verified). */
  starttls?: boolean;
  /**
   * Turn bare LF into CRLF before sending (default true). Set false to send
   * the bytes as given, e.g. to test bare-LF handling.
   */
  fixLineEnds?: boolean;
}

const SMTPLIB_SCRIPT = `
import base64, json, re, smtplib, ssl, sys
p = json.load(sys.stdin)
host, port = p["server"].rsplit(":", 1)
out = {}
def rep(r):
    return {"code": r[0], "text": r[1].decode("utf-8", "replace")}
try:
    kw = {"timeout": p["timeout"]}
    if p.get("helo"): kw["local_hostname"] = p["helo"]
    if p.get("local"): kw["source_address"] = (p["local"], 0)
    s = smtplib.SMTP(host.strip("[]"), int(port), **kw)
    s.ehlo()
    if p.get("starttls"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
    out["mail"] = rep(s.mail(p["from"], p.get("mail_options") or []))
    ok = out["mail"]["code"] == 250
    out["rcpt"] = []
    if ok:
        for r in p["to"]:
            out["rcpt"].append(rep(s.rcpt(r)))
        ok = any(r["code"] in (250, 251) for r in out["rcpt"])
    if ok:
        data = base64.b64decode(p["data"])
        if p["fix_eols"]:
            data = re.sub(rb"(?<!\\r)\\n", b"\\r\\n", data)
        out["data"] = rep(s.data(data))
        ok = out["data"]["code"] == 250
    try:
        s.quit()
    except Exception:
        pass
    print(json.dumps(out))
    sys.exit(0 if ok else 1)
except SystemExit:
    raise
except Exception as e:
    print(json.dumps(out))
    print(f"{type(e).__name__}: {e}", file=sys.stderr)
    sys.exit(2)
`;

let python: string | undefined;

/**
 * The Python 3 interpreter to use: `$FASTMTA_TEST_PYTHON`, else
 * /usr/bin/python3 when present (a pyenv shim on PATH costs seconds per start
 * on a loaded machine), else `python3` from PATH.
 */
export function pythonExecutable(): string {
  if (python !== undefined) return python;
  python = Deno.env.get("FASTMTA_TEST_PYTHON") ?? "";
  if (!python) {
    try {
      python = Deno.statSync("/usr/bin/python3").isFile ? "/usr/bin/python3" : "python3";
    } catch {
      python = "python3";
    }
  }
  return python;
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/**
 * Sends one message with Python's smtplib ({@link pythonExecutable}), step by step
 * (EHLO, [STARTTLS], MAIL, RCPT..., DATA) so that every reply, including the
 * one carrying the queue id, is captured.
 */
export async function sendWithSmtplib(opts: SmtplibOptions): Promise<SmtplibResult> {
  const input = JSON.stringify({
    server: opts.server,
    from: opts.from,
    to: opts.to,
    data: toBase64(new TextEncoder().encode(opts.data)),
    helo: opts.helo,
    local: opts.localAddress,
    timeout: opts.timeoutSec ?? 30,
    mail_options: opts.mailOptions,
    starttls: opts.starttls ?? false,
    fix_eols: opts.fixLineEnds ?? true,
  });
  const child = new Deno.Command(pythonExecutable(), {
    args: ["-c", SMTPLIB_SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONIOENCODING: "utf-8" },
  }).spawn();
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(input));
  } finally {
    await writer.close().catch(() => {});
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const result: SmtplibResult = { code: out.code, stdout, stderr };
  try {
    const parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "{}");
    result.mailReply = parsed.mail;
    result.rcptReplies = parsed.rcpt;
    result.dataReply = parsed.data;
    if (parsed.data?.code === 250) result.queueId = parseQueueId(parsed.data.text);
  } catch {
    // Non-JSON output: leave the parsed fields unset; stdout/stderr tell why.
  }
  return result;
}
