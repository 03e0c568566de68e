/**
 * Opening a new SMTP session on an egress path: the destination's hosts and addresses in order
 * (under the path's connection rate), then for one address connect, greeting, EHLO, STARTTLS as
 * the delivery's TLS needs say (opportunistic TLS that fails in the handshake is tried once
 * more in plain text, as Postfix does), EHLO again and AUTH for a route that has credentials.
 * Each host that cannot be used leaves a {@link HostProblem}.
 *
 * Reads config: delivery.connect_timeout, command_timeout, max_hold.
 */
import { metrics } from "../metrics/mod.ts";
import type { TlsMode } from "../config/delivery_schema.ts";
import type { Config } from "../config/mod.ts";
import { admitConnection } from "./admission.ts";
import {
  type EgressPath,
  type PooledConnection,
  sameFamily,
  type TlsNeeds,
} from "./egress_path.ts";
import { sleep } from "./limits.ts";
import type { MxHost, RouteSettings } from "../routing/mx.ts";
import type { EffectiveRule } from "../routing/policy.ts";
import {
  ConnectionError,
  formatReply,
  type Reply,
  SmtpClientConnection,
  TlsError,
} from "./smtp_client.ts";

/** Why one host could not be used. */
export interface HostProblem {
  host: string;
  address: string;
  stage: "connect" | "greeting" | "ehlo" | "starttls" | "tls" | "auth";
  reply: Reply | null;
  message: string;
  at: number;
  durationMs: number;
}

/** Options for opening connections on a path. */
export interface ConnectOptions {
  hosts: MxHost[];
  helo: string;
  tls: TlsNeeds;
  route?: RouteSettings;
  /** Trusted CAs for `verify` (roots plus `delivery.tls_ca_file`). */
  ca?: string[];
}

/** A new connection, a hold by the connection rate, or the problems of every host tried. */
export type Opened =
  | { kind: "ok"; pooled: PooledConnection; problems: HostProblem[] }
  | { kind: "held"; reason: "local_limit"; until: number; why: string }
  | { kind: "failed"; problems: HostProblem[] };

/** Records a problem of the current host and returns null. */
type Problem = (stage: HostProblem["stage"], reply: Reply | null, message: string) => null;

/**
 * Opens a connection on `path` to the first host and address that works (addresses of the
 * source's IP family only), taking a token of the rule's connection rate for each try.
 */
export async function openOnHosts(
  path: EgressPath,
  rule: EffectiveRule,
  options: ConnectOptions,
  config: Config,
): Promise<Opened> {
  const problems: HostProblem[] = [];
  for (const host of options.hosts) {
    for (const address of host.addresses) {
      if (!sameFamily(path.source.ip, address)) continue;
      if (rule.connectionRate) {
        const admission = admitConnection(path, rule.connectionRate, config);
        if (admission.kind === "later") {
          if (problems.length > 0) return { kind: "failed", problems };
          return {
            kind: "held",
            reason: "local_limit",
            until: admission.at,
            why: `connection rate of ${path.key}`,
          };
        }
        if (admission.kind === "wait") await sleep(admission.ms);
      }
      const opened = await openConnection(path, host, address, options, problems, config);
      if (opened) return { kind: "ok", pooled: opened, problems };
    }
  }
  if (problems.length === 0) {
    problems.push({
      host: options.hosts[0]?.name ?? "",
      address: "",
      stage: "connect",
      reply: null,
      message: `no address of the family of source ${path.source.ip}`,
      at: Date.now(),
      durationMs: 0,
    });
  }
  return { kind: "failed", problems };
}

/** Opens, greets, negotiates TLS and authenticates; records a problem and returns null. */
async function openConnection(
  path: EgressPath,
  host: MxHost,
  address: string,
  options: ConnectOptions,
  problems: HostProblem[],
  config: Config,
): Promise<PooledConnection | null> {
  const mode = options.tls.stsMx ? "verify" : options.tls.mode;
  const first = await openOnce(path, host, address, options, mode, problems, config);
  metrics.inc("fastmta_smtp_connections_out_total", { result: first === null ? "failed" : "ok" });
  if (first !== "tls_failed") return first;
  // Opportunistic TLS that fails in the handshake: try once more in plain text (as Postfix).
  if (mode !== "opportunistic") return null;
  const second = await openOnce(path, host, address, options, "none", problems, config);
  metrics.inc("fastmta_smtp_connections_out_total", { result: second === null ? "failed" : "ok" });
  return second === "tls_failed" ? null : second;
}

async function openOnce(
  path: EgressPath,
  host: MxHost,
  address: string,
  options: ConnectOptions,
  mode: TlsMode,
  problems: HostProblem[],
  config: Config,
): Promise<PooledConnection | null | "tls_failed"> {
  const started = Date.now();
  const problem: Problem = (stage, reply, message) => {
    problems.push({
      host: host.name,
      address,
      stage,
      reply,
      message,
      at: Date.now(),
      durationMs: Date.now() - started,
    });
    return null;
  };
  const limits = config.delivery;
  let conn: SmtpClientConnection;
  let greeting: Reply;
  try {
    ({ conn, greeting } = await SmtpClientConnection.open({
      host: address,
      port: host.port,
      localAddress: path.source.ip ?? undefined,
      connectTimeoutMs: limits.connect_timeout,
      commandTimeoutMs: limits.command_timeout,
    }));
  } catch (error) {
    if (!(error instanceof ConnectionError)) throw error;
    return problem("connect", null, error.message);
  }
  try {
    if (!(await negotiate(conn, greeting, host, options, mode, problem))) return null;
  } catch (error) {
    conn.close();
    if (error instanceof TlsError) {
      problem("tls", null, error.message);
      return "tls_failed";
    }
    if (!(error instanceof ConnectionError)) throw error;
    return problem("connect", null, error.message);
  }
  return {
    conn,
    path,
    mxName: host.name.toLowerCase(),
    address,
    timer: null,
    timerAt: 0,
    idleUntil: 0,
    slot: null,
  };
}

/**
 * Greeting, EHLO, STARTTLS (as `mode` says) and AUTH on a connection just opened; null (the
 * connection quit and the problem recorded) when one of them fails.
 */
async function negotiate(
  conn: SmtpClientConnection,
  greeting: Reply,
  host: MxHost,
  options: ConnectOptions,
  mode: TlsMode,
  problem: Problem,
): Promise<true | null> {
  if (greeting.code !== 220) {
    await conn.quit();
    return problem("greeting", greeting, formatReply(greeting));
  }
  let hello = await conn.hello(options.helo);
  if (hello.code !== 250) {
    await conn.quit();
    return problem("ehlo", hello, formatReply(hello));
  }
  if (mode !== "none") {
    if (conn.capabilities.has("STARTTLS")) {
      const upgraded = await conn.startTls({
        servername: host.name,
        verify: mode === "verify",
        ca: options.ca,
      });
      if (upgraded.kind === "refused") {
        if (mode !== "opportunistic") {
          await conn.quit();
          return problem("starttls", upgraded.reply, formatReply(upgraded.reply));
        }
      } else {
        hello = await conn.hello(options.helo);
        if (hello.code !== 250) {
          await conn.quit();
          return problem("ehlo", hello, formatReply(hello));
        }
      }
    } else if (mode !== "opportunistic") {
      await conn.quit();
      return problem(
        "starttls",
        null,
        `TLS is ${mode} but ${host.name} does not offer STARTTLS`,
      );
    }
  }
  if (options.route?.auth) {
    const auth = await conn.authenticate(
      options.route.auth.username,
      options.route.auth.password,
    );
    if (auth.code !== 235) {
      await conn.quit();
      return problem("auth", auth, formatReply(auth));
    }
  }
  return true;
}
