/**
 * A fastmta server for the SMTP inbound tests: its own temp data folder and ports, SMTP users
 * made with the real CLI, listeners in all three modes, and no route out of 127.0.0.1
 * (deliveries go to a closed loopback port and are deferred). Also a Python smtplib session
 * runner for what the generic helpers do not cover (AUTH, DSN parameters, EHLO features).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { freePort } from "./net.ts";
import { runCli, type ServerConfig, type ServerProcess, startServer } from "./server_process.ts";

/** A running server with its ports and data. */
export interface SmtpFixture extends AsyncDisposable {
  dir: string;
  configPath: string;
  server: ServerProcess;
  ports: { smtp: number; submission: number; smtps: number };
  /** The stored message: envelope sender, body as text, parsed meta. */
  message(id: string): { sender: string; body: string; meta: Record<string, unknown> } | null;
}

/** Options for {@link startSmtpFixture}. */
export interface SmtpFixtureOptions {
  /** Merged into the `smtp` section. */
  smtp?: Record<string, unknown>;
  /** Users to add with `main.ts user add` before the server starts. */
  users?: { name: string; password: string; args?: string[] }[];
  workers?: number;
}

interface SpooledRow {
  sender: string;
  body: Uint8Array;
  meta: string | null;
  size: number;
  body_segment: string | null;
  body_offset: number | null;
}

/** The stored bytes: the row's, or its segment's with `database.body_spool: "segments"`. */
function bodyOf(spoolDir: string, row: SpooledRow): Uint8Array {
  if (row.body_segment === null) return row.body;
  for (const suffix of [".open", ".seg"]) {
    try {
      const whole = Deno.readFileSync(`${spoolDir}/${row.body_segment}${suffix}`);
      const at = Number(row.body_offset);
      return whole.subarray(at, at + Number(row.size));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  throw new Error(`Cannot find spool segment "${row.body_segment}"`);
}

/** Starts the server (and adds users); stop it with `await using` or `[Symbol.asyncDispose]`. */
export async function startSmtpFixture(options: SmtpFixtureOptions = {}): Promise<SmtpFixture> {
  const dir = await Deno.makeTempDir({ prefix: "fastmta-smtp-test-" });
  const ports = { smtp: freePort(), submission: freePort(), smtps: freePort() };
  const dead = freePort();
  const config: ServerConfig = {
    id: "smtp-test",
    data_dir: dir,
    database: { driver: "sqlite3", connection: `${dir}/fastmta.db` },
    smtp: {
      listen: [`127.0.0.1:${ports.smtp}`],
      listeners: [
        { ip: "127.0.0.1", port: ports.smtp, mode: "smtp" },
        { ip: "127.0.0.1", port: ports.submission, mode: "submission" },
        { ip: "127.0.0.1", port: ports.smtps, mode: "smtps" },
      ],
      hostname: "mx.fastmta.test",
      workers: options.workers ?? 2,
      relay_networks: ["127.0.0.1/32"],
      local_domains: ["local.test"],
      max_message_size: 20_000,
      ...options.smtp,
      // Fewer KDF rounds than production keeps the AUTH tests quick; the mechanism is the same.
      auth: { password_iterations: 20_000, ...(options.smtp?.auth as object ?? {}) },
    },
    admin: { listen: `127.0.0.1:${freePort()}` },
    dns: { servers: [`127.0.0.1:${dead}`] },
    routes: { "*": { host: "127.0.0.1", port: dead } },
    delivery: { retry_schedule: ["1h"] },
  };
  const configPath = `${dir}/app.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config));
  try {
    // Only serve and migrate apply migrations: set the schema up before adding users.
    if (options.users?.length) {
      const migrated = await runCli(["migrate", "--config", configPath]);
      if (migrated.code !== 0) throw new Error(`migrate failed: ${migrated.stderr}`);
    }
    for (const user of options.users ?? []) {
      const out = await runCli(
        ["user", "add", user.name, "--config", configPath, ...(user.args ?? [])],
        { stdin: user.password + "\n" },
      );
      if (out.code !== 0) throw new Error(`user add ${user.name} failed: ${out.stderr}`);
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  let server: ServerProcess;
  try {
    server = await startServer({ config });
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const db = new DatabaseSync(`${dir}/fastmta.db`);
  return {
    dir,
    configPath,
    server,
    ports,
    message(id) {
      const row = db.prepare(
        "SELECT sender, body, meta, size, body_segment, body_offset FROM messages WHERE id = ?",
      ).get(id) as SpooledRow | undefined;
      if (!row) return null;
      return {
        sender: row.sender,
        body: new TextDecoder().decode(bodyOf(`${dir}/fastmta.db-spool`, row)),
        meta: row.meta ? JSON.parse(row.meta) : {},
      };
    },
    async [Symbol.asyncDispose]() {
      db.close();
      const status = await server.stop();
      if (status.code !== 0 && !status.signal) {
        console.error(`--- fastmta output ---\n${server.logs()}`);
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** What {@link smtplibSession} does, step by step. */
export interface SmtplibSessionOptions {
  port: number;
  /** Implicit TLS (SMTP_SSL). */
  ssl?: boolean;
  starttls?: boolean;
  /** `mechanism` limits smtplib to that one (it picks CRAM-MD5 first when offered anyway). */
  login?: { user: string; password: string; mechanism?: string };
  from?: string;
  mailOptions?: string[];
  /** Recipients with their RCPT parameters. */
  rcpts?: { to: string; options?: string[] }[];
  data?: string;
  localAddress?: string;
}

/** Replies from {@link smtplibSession}. */
export interface SmtplibSessionResult {
  /** EHLO keywords (lower case) with their parameters, after STARTTLS if any. */
  features: Record<string, string>;
  /** Features before STARTTLS. */
  featuresBeforeTls?: Record<string, string>;
  login?: { code: number; text: string; mechanism?: string };
  mail?: { code: number; text: string };
  rcpt?: { code: number; text: string }[];
  data?: { code: number; text: string };
  error?: string;
}

const SESSION_SCRIPT = `
import json, smtplib, ssl, sys
p = json.load(sys.stdin)
out = {}
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def rep(r): return {"code": r[0], "text": r[1].decode("utf-8", "replace")}
try:
    # An explicit local_hostname: without one smtplib asks DNS for this host's FQDN.
    kw = {"timeout": 20, "local_hostname": "client.test"}
    if p.get("local"): kw["source_address"] = (p["local"], 0)
    if p.get("ssl"):
        s = smtplib.SMTP_SSL("127.0.0.1", p["port"], context=ctx, **kw)
    else:
        s = smtplib.SMTP("127.0.0.1", p["port"], **kw)
    s.ehlo("client.test")
    if p.get("starttls"):
        out["featuresBeforeTls"] = dict(s.esmtp_features)
        s.starttls(context=ctx)
        s.ehlo("client.test")
    out["features"] = dict(s.esmtp_features)
    if p.get("login"):
        if p["login"].get("mechanism") and "auth" in s.esmtp_features:
            offered = s.esmtp_features["auth"].upper().split()
            mech = p["login"]["mechanism"].upper()
            s.esmtp_features["auth"] = mech if mech in offered else "NONE-OFFERED"
        try:
            r = s.login(p["login"]["user"], p["login"]["password"])
            out["login"] = rep(r)
        except smtplib.SMTPAuthenticationError as e:
            out["login"] = {"code": e.smtp_code, "text": e.smtp_error.decode("utf-8", "replace")}
        except smtplib.SMTPException as e:
            out["login"] = {"code": 0, "text": str(e)}
    if p.get("from") is not None:
        out["mail"] = rep(s.mail(p["from"], p.get("mail_options") or []))
        out["rcpt"] = []
        if out["mail"]["code"] == 250:
            for r in p.get("rcpts") or []:
                out["rcpt"].append(rep(s.rcpt(r["to"], r.get("options") or [])))
        if p.get("data") is not None and any(r["code"] == 250 for r in out["rcpt"]):
            out["data"] = rep(s.data(p["data"].encode("utf-8")))
    try:
        s.quit()
    except Exception:
        pass
except Exception as e:
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
`;

/** Runs one SMTP session with Python's smtplib (a client we did not write). */
export async function smtplibSession(opts: SmtplibSessionOptions): Promise<SmtplibSessionResult> {
  const child = new Deno.Command("python3", {
    args: ["-c", SESSION_SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({
    port: opts.port,
    ssl: opts.ssl,
    starttls: opts.starttls,
    login: opts.login,
    from: opts.from,
    mail_options: opts.mailOptions,
    rcpts: opts.rcpts,
    data: opts.data,
    local: opts.localAddress,
  })));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  try {
    return JSON.parse(text.split("\n").pop() ?? "{}");
  } catch {
    throw new Error(`smtplib session failed: ${text}\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A small RFC 5322 message (CRLF line ends). */
export function testMessage(subject: string, extraHeaders = "", body = "Hello.\r\n"): string {
  return `From: a@x.test\r\nTo: b@y.test\r\nSubject: ${subject}\r\n${extraHeaders}\r\n${body}`;
}
