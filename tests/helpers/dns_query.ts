/**
 * A one-shot DNS query for tests (tests/helpers/dns_server.ts re-exports it): the decoded
 * response with its rcode and flags, which `Deno.resolveDns` does not show.
 *
 * @module
 */

import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";

/** A DNS record type name as dns-packet spells it ("MX", "A", "TXT", ...). */
export type DnsRecordType = dnsPacket.RecordType;

/** One resource record of a {@link DnsResponse}. */
export interface DnsResponseRecord {
  /** Owner name. */
  name: string;
  /** Record type, e.g. "MX". */
  type: string;
  /** TTL in seconds (absent for OPT). */
  ttl?: number;
  /** Decoded record data as dns-packet returns it. */
  data?: unknown;
}

/** A decoded DNS response, as far as tests need it. */
export interface DnsResponse {
  /** Query id. */
  id: number;
  /** Response code, e.g. "NOERROR", "NXDOMAIN", "SERVFAIL". */
  rcode: string;
  /** Authoritative answer bit. */
  flag_aa: boolean;
  /** Truncated bit. */
  flag_tc: boolean;
  /** Answer section. */
  answers: DnsResponseRecord[];
  /** Authority section. */
  authorities: DnsResponseRecord[];
}

/**
 * Sends one query straight to `server` (UDP, or TCP with `tcp: true`) and
 * returns the decoded response, rcode and flags included — for asserting
 * what `Deno.resolveDns` cannot show (e.g. NXDOMAIN vs NODATA). Rejects after
 * `timeoutMs` (default 5000).
 */
export async function queryDns(
  server: { hostname: string; port: number },
  name: string,
  type: DnsRecordType,
  opts: { tcp?: boolean; timeoutMs?: number } = {},
): Promise<DnsResponse> {
  const id = Math.floor(Math.random() * 65536);
  const query = dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
  });
  const timeoutMs = opts.timeoutMs ?? 5000;
  let cleanup = () => {};
  try {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`queryDns: no answer for ${name}/${type} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (opts.tcp) {
        const socket = net.connect(server.port, server.hostname);
        cleanup = () => {
          clearTimeout(timer);
          socket.destroy();
        };
        let pending: Buffer = Buffer.alloc(0);
        socket.on("connect", () => {
          const frame = Buffer.alloc(2 + query.length);
          frame.writeUInt16BE(query.length, 0);
          frame.set(query, 2);
          socket.write(frame);
        });
        socket.on("data", (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          if (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
            resolve(pending.subarray(2, 2 + pending.readUInt16BE(0)));
          }
        });
        socket.on("error", reject);
      } else {
        const socket = dgram.createSocket(net.isIPv6(server.hostname) ? "udp6" : "udp4");
        cleanup = () => {
          clearTimeout(timer);
          socket.close();
        };
        socket.on("message", (msg: Buffer) => resolve(msg));
        socket.on("error", reject);
        socket.send(query, server.port, server.hostname);
      }
    });
    const decoded = dnsPacket.decode(raw) as dnsPacket.DecodedPacket & { rcode?: string };
    if (decoded.id !== id) throw new Error(`queryDns: id mismatch (${decoded.id} != ${id})`);
    return {
      id,
      rcode: decoded.rcode ?? "NOERROR",
      flag_aa: decoded.flag_aa,
      flag_tc: decoded.flag_tc,
      answers: (decoded.answers ?? []) as DnsResponseRecord[],
      authorities: (decoded.authorities ?? []) as DnsResponseRecord[],
    };
  } finally {
    cleanup();
  }
}
