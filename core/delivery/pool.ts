/**
 * Connection pools per (source IP, remote address:port). A delivery borrows a connection,
 * runs one transaction and gives it back; idle connections are kept for `idle_timeout` and
 * reused, each for at most `max_messages_per_connection` messages. At most
 * `max_connections_per_host` connections per pool are open; further borrowers wait their turn.
 *
 * Reads config: delivery.max_connections_per_host, max_messages_per_connection, idle_timeout,
 * connect_timeout, command_timeout.
 */
import type { Config } from "../config/mod.ts";
import { type Reply, SmtpClientConnection } from "./smtp_client.ts";

/** A borrowed, greeted connection, or the reply that refused us. */
export type Borrowed =
  | { kind: "ok"; conn: SmtpClientConnection }
  | { kind: "refused"; reply: Reply; stage: "greeting" | "ehlo" };

interface Pool {
  idle: { conn: SmtpClientConnection; timer: ReturnType<typeof setTimeout> }[];
  open: number;
  waiters: (() => void)[];
}

/** All connection pools of one delivery worker. */
export class ConnectionPools {
  #config: Config;
  #pools = new Map<string, Pool>();

  constructor(config: Config) {
    this.#config = config;
  }

  #pool(key: string): Pool {
    let pool = this.#pools.get(key);
    if (!pool) this.#pools.set(key, pool = { idle: [], open: 0, waiters: [] });
    return pool;
  }

  /** Borrows a connection to `address:port` from `localAddress` with EHLO done as `helo`. */
  async borrow(
    address: string,
    port: number,
    localAddress: string | undefined,
    helo: string,
  ): Promise<Borrowed> {
    const key = `${localAddress ?? ""}|${address}|${port}`;
    const pool = this.#pool(key);
    const limits = this.#config.delivery;
    while (true) {
      const idle = pool.idle.pop();
      if (idle) {
        clearTimeout(idle.timer);
        if (!idle.conn.closed) return { kind: "ok", conn: idle.conn };
        pool.open--;
        continue;
      }
      if (pool.open < limits.max_connections_per_host) break;
      await new Promise<void>((resolve) => pool.waiters.push(resolve));
    }
    pool.open++;
    try {
      const { conn, greeting } = await SmtpClientConnection.open({
        host: address,
        port,
        localAddress,
        connectTimeoutMs: limits.connect_timeout,
        commandTimeoutMs: limits.command_timeout,
      });
      if (greeting.code !== 220) {
        await conn.quit();
        this.#closed(pool);
        return { kind: "refused", reply: greeting, stage: "greeting" };
      }
      const hello = await conn.hello(helo);
      if (hello.code !== 250) {
        await conn.quit();
        this.#closed(pool);
        return { kind: "refused", reply: hello, stage: "ehlo" };
      }
      return { kind: "ok", conn };
    } catch (error) {
      this.#closed(pool);
      throw error;
    }
  }

  /** Returns a connection; it is kept for reuse when healthy and under its message limit. */
  release(conn: SmtpClientConnection) {
    const key = `${conn.localAddress ?? ""}|${conn.host}|${conn.port}`;
    const pool = this.#pool(key);
    const limits = this.#config.delivery;
    if (conn.closed || conn.messagesSent >= limits.max_messages_per_connection) {
      conn.quit();
      this.#closed(pool);
      return;
    }
    const waiter = pool.waiters.shift();
    if (waiter) {
      // Hand over through the idle list so the waiter picks it up first.
      pool.idle.push({ conn, timer: this.#idleTimer(pool, conn) });
      waiter();
      return;
    }
    pool.idle.push({ conn, timer: this.#idleTimer(pool, conn) });
  }

  #idleTimer(pool: Pool, conn: SmtpClientConnection): ReturnType<typeof setTimeout> {
    return setTimeout(() => {
      const index = pool.idle.findIndex((i) => i.conn === conn);
      if (index >= 0) {
        pool.idle.splice(index, 1);
        conn.quit();
        this.#closed(pool);
      }
    }, this.#config.delivery.idle_timeout);
  }

  #closed(pool: Pool) {
    pool.open--;
    pool.waiters.shift()?.();
  }

  /** Closes every idle connection (shutdown). */
  async closeAll(): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const pool of this.#pools.values()) {
      for (const { conn, timer } of pool.idle.splice(0)) {
        clearTimeout(timer);
        closing.push(conn.quit());
        pool.open--;
      }
    }
    await Promise.all(closing);
  }
}
