/**
 * An SMTP server for tests ("sink"), written directly on `node:net`. It
 * accepts mail, records every accepted message, and lets a test override any
 * reply through the `reply` hook (to simulate rejections, temporary failures,
 * slow servers or dropped connections).
 *
 * @module
 */

import net from "node:net";

import type { SinkMessage, SmtpSink, SmtpSinkOptions } from "./smtp_sink_types.ts";
import { handleSinkConnection, type SinkShared, type SinkState } from "./smtp_sink_connection.ts";

export {
  SINK_DISCONNECT,
  type SinkCommand,
  type SinkCommandContext,
  type SinkMessage,
  type SinkSession,
  type SmtpSink,
  type SmtpSinkOptions,
} from "./smtp_sink_types.ts";

/** Starts an SMTP sink and resolves once it is listening. */
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const ehloHostname = opts.ehloHostname ?? "sink.test";
  const keepData = opts.keepData ?? true;
  const maxMessageSize = opts.maxMessageSize ?? 52_428_800;
  const greeting = opts.greeting === undefined
    ? `220 ${ehloHostname} ESMTP test sink`
    : /^\d{3}[ -]/.test(opts.greeting)
    ? opts.greeting
    : `220 ${opts.greeting}`;
  const extensions = opts.extensions ??
    ["PIPELINING", "8BITMIME", "SMTPUTF8", `SIZE ${maxMessageSize}`, "ENHANCEDSTATUSCODES"];

  const messages: SinkMessage[] = [];
  const sockets = new Set<net.Socket>();
  const state: SinkState = {
    connections: 0,
    activeConnections: 0,
    maxConcurrentConnections: 0,
    dataTransfers: 0,
    nextQueueId: 1,
    closed: false,
  };

  type Waiter = {
    condition: () => boolean;
    resolve: () => void;
    reject: (err: Error) => void;
    description: string;
  };
  const waiters = new Set<Waiter>();
  const errors: unknown[] = [];
  const notify = () => {
    for (const w of [...waiters]) {
      if (errors.length) {
        waiters.delete(w);
        w.reject(
          new Error(`smtp sink reply hook threw while waiting for ${w.description}`, {
            cause: errors[0],
          }),
        );
      } else if (state.closed) {
        waiters.delete(w);
        w.reject(new Error(`smtp sink closed while waiting for ${w.description}`));
      } else if (w.condition()) {
        waiters.delete(w);
        w.resolve();
      }
    }
  };

  /** Records an exception from the reply hook so that waiters fail with it. */
  const hookFailed = (err: unknown) => {
    errors.push(err);
    notify();
  };

  const shared: SinkShared = {
    opts,
    ehloHostname,
    keepData,
    maxMessageSize,
    greeting,
    extensions,
    starttls: opts.starttls,
    messages,
    sockets,
    state,
    notify,
    hookFailed,
  };
  const server = net.createServer((raw) => handleSinkConnection(raw, shared));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  let closing: Promise<void> | undefined;
  const sink: SmtpSink = {
    port,
    hostname,
    messages,
    get connections() {
      return state.connections;
    },
    get activeConnections() {
      return state.activeConnections;
    },
    get maxConcurrentConnections() {
      return state.maxConcurrentConnections;
    },
    get dataTransfers() {
      return state.dataTransfers;
    },
    errors,
    waitFor(condition, timeoutMs = 20_000, description = "condition") {
      if (errors.length) {
        return Promise.reject(
          new Error(`smtp sink reply hook threw before ${description}`, { cause: errors[0] }),
        );
      }
      if (condition(sink)) return Promise.resolve();
      if (state.closed) {
        return Promise.reject(new Error(`smtp sink closed before ${description}`));
      }
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(
              `smtp sink: timed out after ${timeoutMs} ms waiting for ${description} ` +
                `(messages=${messages.length}, connections=${state.connections}, ` +
                `active=${state.activeConnections}, dataTransfers=${state.dataTransfers})`,
            ),
          );
        }, timeoutMs);
        const waiter: Waiter = {
          condition: () => condition(sink),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
          description,
        };
        waiters.add(waiter);
      });
    },
    async waitForMessages(n, timeoutMs = 20_000) {
      await sink.waitFor((s) => s.messages.length >= n, timeoutMs, `${n} message(s)`);
      return [...messages];
    },
    clearMessages() {
      messages.length = 0;
    },
    close() {
      closing ??= (async () => {
        state.closed = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await serverClosed;
        notify(); // rejects pending waiters
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return sink.close();
    },
  };
  return sink;
}
