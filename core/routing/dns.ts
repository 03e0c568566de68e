/**
 * A small stub resolver: one question to a recursive resolver over UDP (TCP when the answer is
 * truncated), answers with their TTLs. Written here because `Deno.resolveDns` reports neither
 * TTLs nor the difference between "no such domain" (NXDOMAIN) and "no record of that type"
 * (NODATA), and delivery needs both (cache by TTL; A fallback only when the domain exists).
 *
 * Talks to: the resolvers in `dns.servers`, else the `nameserver` lines of /etc/resolv.conf.
 * Reads config: dns.servers, dns.timeout.
 */
import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";

/** Record types we ask for. */
export type DnsType = "MX" | "A" | "AAAA" | "TXT" | "PTR";

/** Record data by type. */
export interface DnsData {
  MX: { preference: number; exchange: string };
  A: string;
  AAAA: string;
  TXT: string;
  /** A reverse name's host (the console's forward-confirmed reverse DNS check). */
  PTR: string;
}

/** The answer to one question. `ttlMs` is the smallest TTL of the answer (0 for errors). */
export type DnsResult<T extends DnsType> =
  | { kind: "ok"; records: DnsData[T][]; ttlMs: number }
  | { kind: "nodata"; ttlMs: number }
  | { kind: "nxdomain"; ttlMs: number }
  | { kind: "error"; message: string };

/** A resolver address. */
export interface NameServer {
  ipAddr: string;
  port: number;
}

/** Reads `nameserver` lines from /etc/resolv.conf; 127.0.0.1:53 when there are none. */
export function systemNameServers(path = "/etc/resolv.conf"): NameServer[] {
  try {
    const servers = Deno.readTextFileSync(path).split("\n")
      .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
      .filter((ip): ip is string => ip !== undefined)
      .map((ipAddr) => ({ ipAddr: ipAddr.replace(/%.*$/, ""), port: 53 }));
    if (servers.length > 0) return servers;
  } catch {
    // No resolv.conf (not Linux, or a container without one): the local default below.
  }
  return [{ ipAddr: "127.0.0.1", port: 53 }];
}

const RCODE_NOERROR = 0;
const RCODE_NXDOMAIN = 3;

function stripDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/** Stub resolver over UDP/TCP with per-server timeouts. */
export class DnsClient {
  #servers: NameServer[];
  #timeoutMs: number;

  constructor(servers: NameServer[], timeoutMs: number) {
    this.#servers = servers.length > 0 ? servers : systemNameServers();
    this.#timeoutMs = timeoutMs;
  }

  /** Asks each resolver in turn until one answers. */
  async query<T extends DnsType>(name: string, type: T): Promise<DnsResult<T>> {
    let lastError = "no resolver";
    for (const server of this.#servers) {
      try {
        let packet = await this.#exchange(server, name, type, "udp");
        if (packet.flag_tc) packet = await this.#exchange(server, name, type, "tcp");
        return interpret(packet, type);
      } catch (error) {
        lastError = `${server.ipAddr}:${server.port}: ${(error as Error).message}`;
      }
    }
    return { kind: "error", message: `DNS ${type} ${name}: ${lastError}` };
  }

  #exchange(
    server: NameServer,
    name: string,
    type: DnsType,
    transport: "udp" | "tcp",
  ): Promise<dnsPacket.DecodedPacket> {
    const id = crypto.getRandomValues(new Uint16Array(1))[0];
    const query = dnsPacket.encode({
      type: "query",
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: "IN" }],
      additionals: [{
        type: "OPT",
        name: ".",
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      }],
    });
    const accept = (packet: dnsPacket.DecodedPacket) =>
      packet.id === id && packet.type === "response" &&
      stripDot(packet.questions?.[0]?.name ?? "").toLowerCase() === name.toLowerCase();
    return transport === "udp"
      ? this.#udp(server, query, accept)
      : this.#tcp(server, query, accept);
  }

  #udp(
    server: NameServer,
    query: Buffer,
    accept: (p: dnsPacket.DecodedPacket) => boolean,
  ): Promise<dnsPacket.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket(net.isIPv6(server.ipAddr) ? "udp6" : "udp4");
      const done = (error: Error | null, packet?: dnsPacket.DecodedPacket) => {
        clearTimeout(timer);
        socket.close();
        if (error) reject(error);
        else resolve(packet!);
      };
      const timer = setTimeout(() => done(new Error("timed out")), this.#timeoutMs);
      socket.on("error", (error) => done(error));
      socket.on("message", (message: Buffer) => {
        try {
          const packet = dnsPacket.decode(message);
          if (accept(packet)) done(null, packet);
        } catch {
          // Not a DNS answer for us: keep waiting.
        }
      });
      socket.send(query, server.port, server.ipAddr, (error) => {
        if (error) done(error);
      });
    });
  }

  #tcp(
    server: NameServer,
    query: Buffer,
    accept: (p: dnsPacket.DecodedPacket) => boolean,
  ): Promise<dnsPacket.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: server.ipAddr, port: server.port });
      let pending = Buffer.alloc(0);
      const done = (error: Error | null, packet?: dnsPacket.DecodedPacket) => {
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(packet!);
      };
      const timer = setTimeout(() => done(new Error("timed out (tcp)")), this.#timeoutMs);
      socket.on("error", (error) => done(error));
      socket.on("connect", () => {
        const frame = Buffer.alloc(2 + query.length);
        frame.writeUInt16BE(query.length, 0);
        query.copy(frame, 2);
        socket.write(frame);
      });
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        if (pending.length < 2) return;
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) return;
        try {
          const packet = dnsPacket.decode(pending.subarray(2, 2 + length));
          if (accept(packet)) done(null, packet);
          else done(new Error("mismatched answer"));
        } catch (error) {
          done(error as Error);
        }
      });
      socket.on("close", () => done(new Error("connection closed")));
    });
  }
}

function interpret<T extends DnsType>(
  packet: dnsPacket.DecodedPacket,
  type: T,
): DnsResult<T> {
  const rcode = (packet.flags ?? 0) & 0xf;
  const negativeTtl = () => {
    const soa = (packet.authorities ?? []).find((a) => a.type === "SOA") as
      | dnsPacket.SoaAnswer
      | undefined;
    return soa ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) * 1000 : -1;
  };
  if (rcode === RCODE_NXDOMAIN) return { kind: "nxdomain", ttlMs: negativeTtl() };
  if (rcode !== RCODE_NOERROR) return { kind: "error", message: `DNS ${type}: rcode ${rcode}` };
  const answers = (packet.answers ?? []).filter((a) => a.type === type);
  if (answers.length === 0) return { kind: "nodata", ttlMs: negativeTtl() };
  const ttlMs = Math.min(...answers.map((a) => (a as { ttl?: number }).ttl ?? 0)) * 1000;
  const records = answers.map((answer) => {
    if (answer.type === "MX") {
      return { preference: answer.data.preference, exchange: stripDot(answer.data.exchange) };
    }
    if (answer.type === "TXT") {
      const data = answer.data;
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((p) => typeof p === "string" ? p : Buffer.from(p).toString("utf8"))
        .join("");
    }
    if (answer.type === "PTR") return stripDot(answer.data);
    return (answer as dnsPacket.StringAnswer).data;
  }) as DnsData[T][];
  return { kind: "ok", records, ttlMs };
}
