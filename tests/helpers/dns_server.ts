/**
 * A tiny authoritative DNS server for tests, answering from an in-memory
 * table over UDP (`node:dgram`) and TCP (`node:net`) on the same port.
 *
 * Semantics: names are case-insensitive and written without a trailing dot.
 * An unknown name (or one with `nxdomain: true`) gets NXDOMAIN; a known name
 * without records of the asked type gets NOERROR with an empty answer
 * (NODATA). All records have TTL 60. UDP answers larger than the client's
 * advertised EDNS payload size (512 without EDNS) are sent truncated (TC bit)
 * so that the client retries over TCP.
 *
 * @module
 */

import dgram from "node:dgram";
import net from "node:net";
import { Buffer } from "node:buffer";
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";

export {
  type DnsRecordType,
  type DnsResponse,
  type DnsResponseRecord,
  queryDns,
} from "./dns_query.ts";

/** Records for one name. */
export interface DnsRecords {
  /** MX records. Null MX (RFC 7505) is `[{ preference: 0, exchange: "." }]`. */
  MX?: { preference: number; exchange: string }[];
  /** IPv4 addresses. */
  A?: string[];
  /** IPv6 addresses. */
  AAAA?: string[];
  /**
   * TXT records: a `string[]` holds one record per element; a `string[][]`
   * holds one record per inner array, each element one character-string.
   * Strings longer than 255 bytes are split into 255-byte character-strings.
   */
  TXT?: string[][] | string[];
  /** PTR records of a reverse name (`12.0.0.127.in-addr.arpa`): host names. */
  PTR?: string[];
  /** Answer NXDOMAIN for this name regardless of other records. */
  nxdomain?: boolean;
}

/** Options for {@link startDnsServer}. */
export interface DnsServerOptions {
  /** Address to bind (default "127.0.0.1"). */
  hostname?: string;
  /** Port to bind for both UDP and TCP; 0 (default) picks a free one. */
  port?: number;
  /** Initial records, by name. */
  zones: Record<string, DnsRecords>;
}

/** A running test DNS server. */
export interface DnsServer {
  /** Bound port (UDP and TCP). */
  readonly port: number;
  /** Bound address. */
  readonly hostname: string;
  /** `"hostname:port"`, handy for a resolver config. */
  readonly address: string;
  /** Number of queries answered so far (UDP and TCP). */
  readonly queries: number;
  /** Replaces all records of `name` (creating the name if needed). */
  setRecords(name: string, records: DnsRecords): void;
  /** Removes `name` entirely, so it answers NXDOMAIN. */
  deleteRecords(name: string): void;
  /** Stops both listeners and closes every open TCP connection. */
  close(): Promise<void>;
  /** Same as {@link DnsServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const TTL = 60;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;
const RCODE_NOTIMP = 4;

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, "");
}

function splitCharacterStrings(value: string): Buffer[] {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length === 0) return [bytes];
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) parts.push(bytes.subarray(i, i + 255));
  return parts;
}

function txtRecords(txt: string[][] | string[]): Buffer[][] {
  return (txt as (string | string[])[]).map((record) =>
    typeof record === "string"
      ? splitCharacterStrings(record)
      : record.flatMap((s) => splitCharacterStrings(s))
  );
}

function answersFor(
  question: dnsPacket.Question,
  records: DnsRecords,
): dnsPacket.Answer[] {
  const name = question.name;
  switch (question.type) {
    case "MX":
      return (records.MX ?? []).map((mx) => ({
        type: "MX",
        name,
        ttl: TTL,
        data: { preference: mx.preference, exchange: normalizeName(mx.exchange) },
      }));
    case "A":
      return (records.A ?? []).map((ip) => ({ type: "A", name, ttl: TTL, data: ip }));
    case "AAAA":
      return (records.AAAA ?? []).map((ip) => ({ type: "AAAA", name, ttl: TTL, data: ip }));
    case "PTR":
      return (records.PTR ?? []).map((host) => ({
        type: "PTR",
        name,
        ttl: TTL,
        data: normalizeName(host),
      }));
    case "TXT":
      return txtRecords(records.TXT ?? []).map((data) => ({
        type: "TXT",
        name,
        ttl: TTL,
        data,
      }));
    default:
      return [];
  }
}

/**
 * Starts the DNS server and resolves once both UDP and TCP listeners are
 * bound. With `port: 0` it retries until it finds a port free for both.
 */
export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const hostname = opts.hostname ?? "127.0.0.1";
  const table = new Map<string, DnsRecords>();
  for (const [name, records] of Object.entries(opts.zones)) {
    table.set(normalizeName(name), records);
  }
  let queries = 0;

  /** Builds the response for a raw query; `maxSize` caps UDP answers. */
  function respond(raw: Uint8Array, maxSize: number | undefined): Uint8Array | undefined {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(Buffer.from(raw));
    } catch {
      if (raw.length < 2) return undefined;
      // Undecodable: FORMERR echoing the id.
      return dnsPacket.encode({
        type: "response",
        id: (raw[0] << 8) | raw[1],
        flags: RCODE_FORMERR,
      });
    }
    if (query.type !== "query") return undefined;
    queries++;
    const questions = query.questions ?? [];
    const rd = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
    const baseFlags = dnsPacket.AUTHORITATIVE_ANSWER | rd | dnsPacket.RECURSION_AVAILABLE;
    const ednsOpt = (query.additionals ?? []).find((a) => a.type === "OPT") as
      | dnsPacket.OptAnswer
      | undefined;
    const additionals: dnsPacket.Answer[] = ednsOpt
      ? [{
        type: "OPT",
        name: ".",
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      }]
      : [];
    const opcode = ((query.flags ?? 0) >> 11) & 0xf; // 0 = QUERY

    if (opcode !== 0 || questions.length !== 1) {
      return dnsPacket.encode({
        type: "response",
        id: query.id,
        flags: baseFlags | (opcode !== 0 ? RCODE_NOTIMP : RCODE_FORMERR),
        questions,
        additionals,
      });
    }
    const question = questions[0];
    const records = table.get(normalizeName(question.name));
    const nxdomain = records === undefined || records.nxdomain === true;
    const answers = nxdomain ? [] : answersFor(question, records);
    const response: dnsPacket.Packet = {
      type: "response",
      id: query.id,
      flags: baseFlags | (nxdomain ? RCODE_NXDOMAIN : 0),
      questions,
      answers,
      additionals,
    };
    let encoded = dnsPacket.encode(response);
    if (maxSize !== undefined) {
      const limit = Math.max(512, ednsOpt?.udpPayloadSize ?? 512);
      if (encoded.length > limit) {
        encoded = dnsPacket.encode({
          ...response,
          flags: response.flags! | dnsPacket.TRUNCATED_RESPONSE,
          answers: [],
        });
      }
    }
    return encoded;
  }

  const sockets = new Set<net.Socket>();
  const { udp, tcp, port } = await bindBoth(hostname, opts.port ?? 0);

  udp.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    const out = respond(msg, 512);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  udp.on("error", () => {/* ignore: tests see failures as resolver errors */});

  tcp.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        const out = respond(msg, undefined);
        if (out) {
          const frame = Buffer.alloc(2 + out.length);
          frame.writeUInt16BE(out.length, 0);
          frame.set(out, 2);
          socket.write(frame);
        }
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    })();
    return closed;
  };

  return {
    port,
    hostname,
    address: hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`,
    get queries() {
      return queries;
    },
    setRecords(name: string, records: DnsRecords) {
      table.set(normalizeName(name), records);
    },
    deleteRecords(name: string) {
      table.delete(normalizeName(name));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function bindBoth(
  hostname: string,
  requestedPort: number,
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  const family = net.isIPv6(hostname) ? "udp6" : "udp4";
  const attempts = requestedPort === 0 ? 20 : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const udp = dgram.createSocket(family);
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(requestedPort, hostname, () => {
          udp.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    const port = udp.address().port;
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, hostname, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      return { udp, tcp, port };
    } catch (err) {
      lastError = err;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }
  throw new Error(`startDnsServer: could not bind UDP+TCP on ${hostname}: ${lastError}`);
}
