/**
 * A TCP proxy on loopback, for making a database "go away" in tests without touching the shared
 * server: `close()` stops listening and cuts every proxied connection; a new proxy on the same
 * port brings the database back.
 *
 * @module
 */

/** A running proxy. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** Stops listening and cuts all connections. */
  close(): Promise<void>;
}

/** Options for {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** Where connections go (on 127.0.0.1). */
  targetPort: number;
  /** Port to listen on (default: any free one). */
  port?: number;
}

/** Starts forwarding 127.0.0.1:`port` to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const listener = await listenRetrying(options.port ?? 0);
  const open = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: false });
    } catch {
      // Cut: close both sides below.
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      open.delete(conn);
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      let server: Deno.Conn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: options.targetPort });
      } catch {
        client.close();
        continue;
      }
      open.add(client);
      open.add(server);
      pumps.push(pipe(client, server), pipe(server, client));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      open.clear();
      await accepting;
      await Promise.allSettled(pumps);
    },
  };
}

/** Binding the port a closed proxy just used can briefly fail; try for a few seconds. */
async function listenRetrying(port: number): Promise<Deno.Listener> {
  for (let attempt = 0;; attempt++) {
    try {
      return Deno.listen({ hostname: "127.0.0.1", port });
    } catch (error) {
      if (attempt > 50 || !(error instanceof Deno.errors.AddrInUse)) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
