/**
 * A webhook receiver for the events-on benchmark: answers every POST with 200 and counts the
 * events it got (no signature check: that cost is the receiver's, not fastmta's).
 */
import { splitHostPort } from "./util.ts";

/** A running receiver. */
export interface BenchWebhookReceiver {
  readonly url: string;
  /** Events received since start. */
  events(): number;
  close(): Promise<void>;
}

/** Listens on `addr` (host:port, loopback). */
export function startBenchWebhookReceiver(addr: string): BenchWebhookReceiver {
  const { host, port } = splitHostPort(addr);
  let events = 0;
  const server = Deno.serve({ hostname: host, port, onListen: () => {} }, async (request) => {
    const body = await request.json() as { events?: unknown[] };
    events += body.events?.length ?? 0;
    return new Response("ok");
  });
  return {
    url: `http://${addr}/bench`,
    events: () => events,
    close: () => server.shutdown(),
  };
}
