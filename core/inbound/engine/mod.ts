/**
 * fastmta's own inbound SMTP engine (issue #19): the protocol layer under core/inbound/smtp.ts
 * in place of npm `smtp-server`, with the same handler contract (types.ts). One server per
 * listener on node:net (SO_REUSEPORT across the SMTP workers); implicit TLS (smtps) does the
 * handshake before the session starts, STARTTLS upgrades in the session (connection.ts).
 *
 * In parts: connection.ts (I/O, deadlines, TLS), command_lines.ts (lines out of the reads),
 * data.ts (one DATA and its reply), commands.ts, address.ts (MAIL/RCPT and their parameters),
 * sasl.ts (AUTH), dot_reader.ts (end of data, dot-unstuffing), replies.ts (enhanced status
 * codes).
 *
 * @module
 */
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { Connection, type ConnectionHost, type TlsUpgradeOptions } from "./connection.ts";
import type { EngineHandlers, EngineOptions } from "./types.ts";

export type { DataHandler, DataSource, EngineHandlers, EngineOptions } from "./types.ts";

/** An SMTP server on one listener. */
export class SmtpEngine implements ConnectionHost {
  readonly connections = new Set<Connection>();
  shuttingDown = false;
  readonly server: Server;
  #context: SecureContext;
  #handshakes = new Set<Socket>();
  #errorListeners: ((error: Error) => void)[] = [];

  constructor(readonly options: EngineOptions, readonly handlers: EngineHandlers) {
    this.#context = createSecureContext({ key: options.key, cert: options.cert });
    this.server = createServer((socket) => this.#accept(socket));
    this.server.on("error", (error) => this.onError(error));
  }

  /** Listens for errors that concern one connection only (a failed handshake…). */
  on(event: "error", listener: (error: Error) => void): this {
    if (event === "error") this.#errorListeners.push(listener);
    return this;
  }

  onError(error: Error): void {
    for (const listener of this.#errorListeners) listener(error);
  }

  tlsOptions(): TlsUpgradeOptions {
    return {
      secureContext: this.#context,
      server: this.server,
      SNICallback: (_name, callback) => callback(null, this.#context),
    };
  }

  #start(socket: Socket): void {
    const connection = new Connection(this, socket);
    this.connections.add(connection);
    connection.start();
  }

  #accept(socket: Socket): void {
    if (!this.options.secure) return this.#start(socket);
    // smtps: the TLS handshake first, within the idle timeout.
    if (this.options.maxClients && this.#handshakes.size >= this.options.maxClients) {
      socket.on("error", () => {});
      return void socket.destroy();
    }
    this.#handshakes.add(socket);
    const tls = new TLSSocket(socket, { isServer: true, secureContext: this.#context });
    const timer = setTimeout(() => tls.destroy(), this.options.idleTimeoutMs || 60_000);
    Deno.unrefTimer(timer as unknown as number);
    const settle = () => {
      clearTimeout(timer);
      this.#handshakes.delete(socket);
    };
    const fail = (error?: Error) => {
      settle();
      if (!tls.destroyed) tls.destroy();
      if (!socket.destroyed) socket.destroy();
      if (error) this.onError(error);
    };
    socket.on("error", () => {});
    tls.once("error", fail);
    tls.once("close", () => settle());
    tls.once("secure", () => {
      settle();
      tls.off("error", fail);
      this.#start(tls as unknown as Socket);
    });
  }

  /** Binds `host:port`; rejects with the reason when it cannot. */
  listen(host: string, port: number, reusePort: boolean): Promise<void> {
    return listenOn(this.server, host, port, reusePort);
  }

  /**
   * Stops listening. As smtp-server does, every command from now on gets "421 Server shutting
   * down" (a message being received is still taken); sessions still open after
   * `closeTimeoutMs` get the 421 unasked and are closed.
   */
  close(): Promise<void> {
    this.shuttingDown = true;
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      this.server.close(() => finish());
      for (const socket of this.#handshakes) socket.destroy();
      const timer = setTimeout(() => {
        for (const connection of [...this.connections]) {
          connection.send(421, "Server shutting down");
          connection.close();
        }
        finish();
      }, this.options.closeTimeoutMs);
      Deno.unrefTimer(timer as unknown as number);
    });
  }
}

/**
 * Binds a node:net server (the engine's, or the fallback smtp-server's) to `host:port`; rejects
 * with the reason when it cannot. Node's (and Deno's node:net) `reusePort` sets SO_REUSEPORT:
 * every worker opens its own listening socket on the same address and the kernel balances new
 * connections.
 */
export function listenOn(
  server: Server,
  host: string,
  port: number,
  reusePort: boolean,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen({ port, host, reusePort } as { port: number; host: string }, () => {
      server.off("error", onError);
      resolve();
    });
  });
}
