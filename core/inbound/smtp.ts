/**
 * The SMTP inbound channel on npm `smtp-server`: reads the envelope and the message, applies the
 * relay policy, prepends a `Received:` header and hands the message to `core/accept`. It answers
 * 250 (with the queue id) only after accept says the message is durable.
 *
 * Talks to: SMTP clients (untrusted), core/accept. Reads config: smtp.*.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import type { Config } from "../config/mod.ts";
import { type Acceptor, newQueueId, type RelayPolicy } from "../accept/mod.ts";
import { domainOf } from "../address.ts";

type ResponseError = Error & { responseCode?: number };

function smtpError(code: number, text: string): ResponseError {
  const error: ResponseError = new Error(text);
  error.responseCode = code;
  return error;
}

/** The private parts of smtp-server's SMTPConnection that the patch below relies on. */
interface PatchableConnection {
  __fastmtaPatched?: boolean;
  init(): void;
  _setListeners(callback: () => void): void;
  _server: {
    options: { maxClients?: number; greetingDelayMs?: number };
    connections: Set<unknown>;
  };
  name: string;
  send(code: number, text: string, command: boolean): void;
  connectionReady(): void;
}

/**
 * smtp-server holds every new connection for a fixed 100 ms before its greeting (early-talker
 * detection, hard-coded). With one message per connection that caps each client at ~10 msg/s.
 * We replace `init` with the same logic and a configurable delay (`smtp.greeting_delay`,
 * default 0). With a delay, a client that talks before the greeting still gets 421.
 */
function patchGreetingDelay() {
  const proto = SMTPConnection.prototype as unknown as PatchableConnection;
  if (proto.__fastmtaPatched) return;
  proto.__fastmtaPatched = true;
  proto.init = function init(this: PatchableConnection) {
    this._setListeners(() => {
      const options = this._server.options;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        return this.send(
          421,
          this.name + " Too many connected clients, try again in a moment",
          false,
        );
      }
      const delay = options.greetingDelayMs ?? 0;
      if (delay <= 0) return this.connectionReady();
      const timer = setTimeout(() => this.connectionReady(), delay);
      timer.unref?.();
    });
  };
}

function receivedHeader(
  session: SMTPServerSession,
  hostname: string,
  queueId: string,
  recipient: string | null,
): string {
  const helo = session.hostNameAppearsAs || "unknown";
  const ip = session.remoteAddress.replace(/^::ffff:/, "");
  const protocol = session.transmissionType || "ESMTP";
  const forPart = recipient ? `\r\n\tfor <${recipient}>` : "";
  return `Received: from ${helo} ([${ip}])\r\n\tby ${hostname} (fastmta) with ${protocol} id ${queueId}${forPart};\r\n\t${
    new Date().toUTCString().replace("GMT", "+0000")
  }\r\n`;
}

async function readStream(stream: SMTPServerDataStream): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk as Uint8Array);
  return chunks;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** A running SMTP listener set. */
export interface SmtpInbound {
  close(): Promise<void>;
}

/** Starts an SMTP server on every configured listener. */
export async function startSmtpInbound(
  config: Config,
  acceptor: Acceptor,
  policy: RelayPolicy,
  log: (message: string) => void,
): Promise<SmtpInbound> {
  patchGreetingDelay();
  const { smtp } = config;
  const encoder = new TextEncoder();

  const createServer = () =>
    new SMTPServer({
      name: smtp.hostname,
      banner: "fastmta ESMTP",
      size: smtp.max_message_size,
      // TLS and AUTH arrive with their own issue; until then neither is offered.
      disabledCommands: ["AUTH", "STARTTLS"],
      authOptional: true,
      disableReverseLookup: true,
      logger: false,
      maxClients: 10_000,
      // deno-lint-ignore no-explicit-any
      ...({ greetingDelayMs: smtp.greeting_delay } as any),
      onRcptTo(address, session, callback) {
        if (session.envelope.rcptTo.length >= smtp.max_recipients) {
          return callback(smtpError(452, "4.5.3 Error: too many recipients"));
        }
        const domain = domainOf(address.address);
        if (domain === "") {
          return callback(smtpError(501, "5.1.3 Bad recipient address syntax"));
        }
        if (!policy.mayRelay(session.remoteAddress, Boolean(session.user), domain)) {
          return callback(
            smtpError(554, `5.7.1 <${address.address}>: Relay access denied`),
          );
        }
        callback();
      },
      onData(stream, session, callback) {
        const queueId = newQueueId();
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        const header = encoder.encode(
          receivedHeader(
            session,
            smtp.hostname,
            queueId,
            recipients.length === 1 ? recipients[0] : null,
          ),
        );
        readStream(stream).then(async (chunks) => {
          if (stream.sizeExceeded) {
            // smtp-server answers 552 itself once the stream has ended.
            return callback(
              smtpError(552, "5.3.4 Error: message exceeds fixed maximum message size"),
            );
          }
          let total = header.byteLength;
          for (const c of chunks) total += c.byteLength;
          const body = concat([header, ...chunks], total);
          const mailFrom = session.envelope.mailFrom;
          const id = await acceptor.submit({
            id: queueId,
            sender: mailFrom ? mailFrom.address : "",
            recipients,
            channel: "smtp",
            clientIp: session.remoteAddress.replace(/^::ffff:/, ""),
            receivedAt: Date.now(),
            body,
          });
          callback(null, `2.0.0 Ok: queued as ${id}`);
        }).catch((error) => {
          log(`smtp: cannot accept message ${queueId}: ${(error as Error).message}`);
          callback(smtpError(451, "4.3.0 Error: queue file write error, try again later"));
        });
      },
    });
  const servers: SMTPServer[] = [];
  for (const { host, port } of smtp.listeners) {
    // One smtp-server instance per listener: each owns one listening socket.
    const server = createServer();
    server.on("error", (error: Error) => log(`smtp: ${error.message}`));
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.server.once("error", onError);
      server.server.listen(port, host, () => {
        server.server.off("error", onError);
        resolve();
      });
    }).catch((error) => {
      throw new Error(`Cannot listen on "${host}:${port}": ${(error as Error).message}`);
    });
  }
  return {
    close: async () => {
      await Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}
