/**
 * STARTTLS for the own engine: wraps a plain server socket in a node:tls server socket and
 * reports the end of the handshake, or the connection's end if it fails.
 *
 * @module
 */
import type { Server, Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";

/** The server's TLS settings for a STARTTLS upgrade. */
export interface TlsUpgradeOptions {
  secureContext: SecureContext;
  server: Server;
  SNICallback: (
    name: string,
    callback: (error: Error | null, context: SecureContext) => void,
  ) => void;
}

/** What the connection learns of the upgrade. */
export interface TlsUpgradeEvents {
  /** The handshake is done: `tls` is the connection's socket from now on. */
  secure(tls: TLSSocket): void;
  /** The handshake failed or the socket closed: the connection is over. */
  closed(): void;
}

/** Upgrades `plain` (its listeners are removed: the handshake's bytes are for the TLS socket). */
export function upgradeToTls(
  plain: Socket,
  options: TlsUpgradeOptions,
  events: TlsUpgradeEvents,
): void {
  plain.removeAllListeners("data");
  plain.removeAllListeners("close");
  // Not flowing: the handshake's bytes are for the TLS socket, not lost to no listener.
  plain.pause();
  const tls = new TLSSocket(plain, { isServer: true, ...options });
  const fail = () => {
    if (!tls.destroyed) tls.destroy();
    if (!plain.destroyed) plain.destroy();
    events.closed();
  };
  // `_tlsError` comes before the runtime answers a broken handshake with an alert: a client
  // that talks plain text after STARTTLS just sees the connection close.
  tls.once("_tlsError", fail);
  tls.once("error", fail);
  tls.once("close", () => events.closed());
  tls.once("secure", () => {
    tls.off("error", fail);
    tls.off("_tlsError", fail);
    events.secure(tls);
  });
}
