/**
 * An SMTP sink that discards bodies, on either inbound protocol engine, to measure the
 * protocol layer alone (issue #19): `deno run -A bench/engine_sink.ts <fastmta|smtp-server>
 * <port>`, then point `smtp-source` at 127.0.0.1:<port> and read the sink's CPU time
 * (bench/engine_sink.sh does both). Handlers do nothing but count the bytes.
 *
 * @module
 */
import { SMTPServer } from "smtp-server";
import { patchSmtpConnection } from "../core/inbound/connection_patch.ts";
import { type DataSource, SmtpEngine } from "../core/inbound/engine/mod.ts";
import { makeSelfSignedCert } from "../core/inbound/self_signed.ts";

const [engine, portText] = Deno.args;
const port = Number(portText);
const ok = (_a: unknown, _b: unknown, callback?: (e?: null) => void) => callback?.();
const onData = (
  stream: DataSource,
  _session: unknown,
  callback: (error: null, message: string) => void,
) => {
  let n = 0;
  stream.on("data", (c: Uint8Array) => n += c.length);
  stream.on("end", () => callback(null, "2.0.0 Ok: queued as X" + n));
};
const limits = {
  greetingDelayMs: 0,
  maxErrors: 20,
  commandTimeoutMs: 300000,
  dataTimeoutMs: 600000,
};
if (engine === "fastmta") {
  const pair = await makeSelfSignedCert("x", { ips: ["127.0.0.1"] });
  const server = new SmtpEngine({
    name: "x",
    banner: "x",
    secure: false,
    ...pair,
    size: 50_000_000,
    authMethods: [],
    allowInsecureAuth: false,
    disabledCommands: ["AUTH", "STARTTLS"],
    maxClients: 2000,
    maxCommandLength: 4096,
    idleTimeoutMs: 300_000,
    closeTimeoutMs: 1000,
    ...limits,
  }, {
    onConnect: (_s, cb) => cb(),
    onSecure: (_x, _s, cb) => cb(),
    onClose: () => {},
    onAuth: (_a, _s, cb) => cb(new Error("no")),
    onMailFrom: (_a, _s, cb) => cb(),
    onRcptTo: (_a, _s, cb) => cb(),
    onData,
  });
  await server.listen("127.0.0.1", port, false);
} else {
  patchSmtpConnection();
  const server = new SMTPServer({
    name: "x",
    banner: "x",
    disableReverseLookup: true,
    logger: false,
    authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"],
    size: 50_000_000,
    fastmta: limits,
    onMailFrom: ok,
    onRcptTo: ok,
    onData,
  } as never);
  server.listen(port, "127.0.0.1");
}
// SIGINT ends the process the ordinary way (a --cpu-prof profile gets written).
Deno.addSignalListener("SIGINT", () => Deno.exit(0));
