/**
 * Schema of the `smtp` section: listeners, TLS, AUTH and the guards against hostile clients
 * (core/inbound/). Each key carries `.meta({ description, live })`, see schema.ts.
 */
import { z } from "zod";
import { duration, hostPort } from "./delivery_schema.ts";

const cidr = z.string().regex(
  /^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$|^[0-9a-fA-F:]+(\/\d{1,3})?$/,
  'Expected an IP network like "127.0.0.0/8"',
).meta({ format: "CIDR" });

/** One SMTP listener with its mode: `smtp` (relay by policy), `submission`, `smtps`. */
const smtpListener = z.object({
  ip: z.string().min(1).meta({ description: "Address to listen on.", live: false }),
  port: z.number().int().min(1).max(65535).meta({ description: "TCP port.", live: false }),
  mode: z.enum(["smtp", "submission", "smtps"]).optional().meta({
    description: "How the listener treats clients; default by port: 465 smtps, 587 submission, " +
      "any other smtp (see docs/smtp.md).",
    live: false,
  }),
}).strict();

/** The `smtp` section. */
export const smtpSection = z.object({
  listeners: z.array(smtpListener).min(1).optional().meta({
    description: "Listeners with an explicit mode; overrides `listen` and the seed's `ports`. " +
      "The listeners become `listener` objects, synced from the file at each start until an " +
      "operator changes them (docs/management.md).",
    live: false,
  }),
  listen: z.array(hostPort).optional().meta({
    description: 'Listeners as "host:port"; the mode follows the port (465 smtps, 587 ' +
      "submission, else smtp). Default `127.0.0.1:2525` when no listener is configured.",
    live: false,
  }),
  hostname: z.string().optional().meta({
    description: "Our name in the greeting, EHLO and `Received:` headers (default: the " +
      "first IP's hostname, else the host name).",
    live: false,
  }),
  max_message_size: z.number().int().positive().default(50 * 1024 * 1024).meta({
    description: "Largest message in bytes: advertised in EHLO SIZE, enforced on every channel.",
    live: false,
  }),
  relay_networks: z.array(cidr).default(["127.0.0.0/8", "::1/128"]).meta({
    description: "Client networks allowed to relay without AUTH on `smtp` listeners.",
    live: false,
  }),
  local_domains: z.array(z.string()).default([]).meta({
    description: "Domains anyone may send to on `smtp` listeners.",
    live: false,
  }),
  workers: z.number().int().min(1).max(64).optional().meta({
    description: "SMTP acceptance workers sharing the listening sockets (default: CPU cores " +
      "minus one, at least one).",
    live: false,
  }),
  isolate: z.enum(["worker", "main"]).default("worker").meta({
    description: "Where the first SMTP worker runs: `worker` (the default), a Web Worker " +
      "restarted alone when it crashes; `main`, in the main thread's isolate, one V8 isolate " +
      "less (~18 MB at idle, docs/performance.md, Memory) for a node whose memory matters more " +
      "than its throughput: SMTP, delivery (`delivery.isolate: main`) and HTTP then share one " +
      "thread, and a crash ends the process (exit code 70) for the service manager to restart " +
      "it. Not with `delivery.isolate: smtp` (env FASTMTA_SMTP_ISOLATE).",
    live: false,
  }),
  engine: z.enum(["fastmta", "smtp-server"]).default("fastmta").meta({
    description: "SMTP protocol engine: `fastmta` (our own, core/inbound/engine/) or " +
      "`smtp-server` (the npm library with our patches), kept while the own one beds in " +
      "(env FASTMTA_SMTP_ENGINE).",
    live: false,
  }),
  greeting_delay: duration.default(0).meta({
    description: "Wait before the 220 greeting; a client that talks first gets 421.",
    live: false,
  }),
  max_recipients: z.number().int().positive().default(1000).meta({
    description: "Recipients per message (452 above it; also the inject, API and outbox limit).",
    live: true,
  }),
  group_commit_window: duration.default(0).meta({
    description: "Extra wait to gather more messages into one commit (0: commit at once).",
    live: false,
  }),
  tls: z.object({
    cert_file: z.string().optional().meta({
      description: "PEM certificate chain; with neither file set a self-signed pair is " +
        "made in `<data_dir>/tls/`.",
      live: false,
    }),
    key_file: z.string().optional().meta({
      description: "PEM private key of `cert_file` (set both or neither).",
      live: false,
    }),
    certificate: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "Expected a certificate name")
      .optional().meta({
        description: "The name of an uploaded TLS certificate (`fastmta tls-cert`, kind " +
          "tls_certificate) that every listener without its own certificate serves; the files " +
          "above (or the self-signed pair) while none of that name is stored. Replacing the " +
          "uploaded certificate applies live.",
        live: false,
      }),
  }).strict().prefault({}).meta({ description: "The certificate for STARTTLS and smtps." }),
  auth: z.object({
    mechanisms: z.array(z.enum(["PLAIN", "LOGIN", "CRAM-MD5"])).min(1)
      .default(["PLAIN", "LOGIN", "CRAM-MD5"]).meta({
        description: "AUTH mechanisms offered; without CRAM-MD5 nothing reversible is stored.",
        live: false,
      }),
    allow_insecure_auth: z.boolean().default(false).meta({
      description: "Offer AUTH on connections without TLS.",
      live: false,
    }),
    key_file: z.string().optional().meta({
      description: "AES-256-GCM key for CRAM-MD5 secrets (32 bytes, raw or base64; default " +
        "`<data_dir>/auth/secret.key`, made at first need). Every node needs the same one.",
      live: false,
    }),
    max_failures: z.number().int().min(1).default(5).meta({
      description: "Failed AUTH attempts per client IP within `failure_window` before AUTH " +
        "is refused (421).",
      live: false,
    }),
    failure_window: duration.default(300_000).meta({
      description: "The window of `max_failures`.",
      live: false,
    }),
    password_iterations: z.number().int().min(10_000).default(600_000).meta({
      description: "PBKDF2-SHA256 iterations for passwords set from now on (each hash keeps " +
        "its own).",
      live: false,
    }),
    cache_ttl: duration.default(300_000).meta({
      description: "How long a verified password is remembered (the KDF is slow on purpose).",
      live: false,
    }),
    max_recipients: z.number().int().positive().default(100).meta({
      description: "Recipients per message for users without their own limit.",
      live: false,
    }),
    max_messages_per_minute: z.number().int().positive().default(600).meta({
      description: "Messages per minute for users without their own limit (421 at MAIL FROM).",
      live: false,
    }),
  }).strict().prefault({}).meta({ description: "SMTP AUTH (users: `fastmta user`)." }),
  max_connections_per_ip: z.number().int().min(1).default(50).meta({
    description: "Concurrent connections per client IP, all workers together " +
      "(`relay_networks` exempt).",
    live: false,
  }),
  max_connections: z.number().int().min(1).default(2000).meta({
    description: "Concurrent connections per worker and listener.",
    live: false,
  }),
  max_errors: z.number().int().min(1).default(10).meta({
    description: "Error replies in one session before 421 and disconnect.",
    live: false,
  }),
  max_line_length: z.number().int().min(512).default(4096).meta({
    description:
      "Longest command line in bytes, AUTH lines included (a longer one gets 500 5.5.2; the session goes on).",
    live: false,
  }),
  max_header_size: z.number().int().min(1024).default(1024 * 1024).meta({
    description: "Largest header section of a message in bytes (552 5.3.4).",
    live: false,
  }),
  idle_timeout: duration.default(300_000).meta({
    description: "Idle time (no byte from the client) before 421.",
    live: false,
  }),
  command_timeout: duration.default(300_000).meta({
    description: "Deadline for one complete command line from the previous reply " +
      "(slow-loris guard).",
    live: false,
  }),
  data_timeout: duration.default(600_000).meta({
    description: "Deadline for the whole DATA transfer.",
    live: false,
  }),
  add_message_id: z.boolean().default(true).meta({
    description: "Add `Message-ID: <queue id@hostname>` to messages without one.",
    live: false,
  }),
}).strict().prefault({}).meta({ description: "SMTP acceptance (docs/smtp.md)." });
