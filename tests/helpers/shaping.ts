/** What the delivery shaping tests share: a slow answer, an MX zone, a sink that holds mail. */
import { startDnsServer } from "./dns_server.ts";
import { startSmtpSink } from "./smtp_sink.ts";

/** Resolves to `value` after `ms`: a slow remote server's answer. */
export function slowly<T>(ms: number, value: T): Promise<T> {
  // A slow remote server (not a wait in the test): keeps connections busy for a moment.
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

/** A DNS server where every domain's MX is `mxName` at `ip`. */
export async function mxZone(domains: string[], mxName: string, ip: string) {
  const zones: Record<string, { MX?: { preference: number; exchange: string }[]; A?: string[] }> = {
    [mxName]: { A: [ip] },
  };
  for (const d of domains) zones[d] = { MX: [{ preference: 10, exchange: mxName }] };
  return await startDnsServer({ zones });
}

/**
 * A sink that holds the first message until `connections` sessions are open at once (so a test
 * sees whether the limit lets that many open), then answers every message a little slowly.
 */
export async function sinkHoldingFirstUntil(ip: string, connections: number) {
  // deno-lint-ignore prefer-const
  let sink: Awaited<ReturnType<typeof startSmtpSink>>;
  sink = await startSmtpSink({
    hostname: ip,
    reply: async ({ command, messageIndex }) => {
      if (command === "DATA_END" && messageIndex === 0) {
        await sink.waitFor(
          (s) => s.activeConnections >= connections,
          10_000,
          `${connections} connections`,
        );
      }
      if (command === "DATA_END") return await slowly(5, undefined);
    },
  });
  return sink;
}
