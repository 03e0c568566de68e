/**
 * Every metric fastmta exports, in one list: the registry is built from it, docs/observability.md
 * lists it (a test keeps the page in step) and the Grafana dashboard may use only these names.
 */
import type { MetricSpec } from "./registry.ts";

/** Attempt durations, seconds: from a local sink (ms) to a slow remote MX (minutes). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The catalog. Label `site` is the MX site (or the domain when it has none). */
export const METRICS: readonly MetricSpec[] = [
  {
    name: "fastmta_messages_accepted_total",
    kind: "counter",
    help: "Messages made durable and acknowledged (SMTP 250, HTTP 202, outbox, inject, DSNs).",
    labels: ["channel"],
  },
  {
    name: "fastmta_recipients_total",
    kind: "counter",
    help:
      "Recipient outcomes once settled: delivered, deferred, bounced (5xx), failed (expired or " +
      "local), suppressed; by pool, vmta (source IP) and site.",
    labels: ["outcome", "pool", "vmta", "site"],
  },
  {
    name: "fastmta_delivery_attempt_seconds",
    kind: "histogram",
    help: "Duration of one delivery attempt of one unit (connect to last reply), by result.",
    labels: ["result"],
    buckets: LATENCY_BUCKETS,
  },
  {
    name: "fastmta_delivery_latency_seconds",
    kind: "histogram",
    help: "From acceptance to delivery, per unit with delivered recipients (retries included).",
    labels: [],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400],
  },
  {
    name: "fastmta_queue_depth",
    kind: "gauge",
    help: "The queue by state: recipients queued and deferred, units in flight (read from the " +
      "store at scrape time, at most every 5 s).",
    labels: ["state"],
  },
  {
    name: "fastmta_smtp_connections_in_total",
    kind: "counter",
    help: "Inbound SMTP connections, by result (accepted, refused).",
    labels: ["result"],
  },
  {
    name: "fastmta_smtp_connections_out_total",
    kind: "counter",
    help: "Outbound SMTP connections opened, by result (ok, failed).",
    labels: ["result"],
  },
  {
    name: "fastmta_smtp_replies_total",
    kind: "counter",
    help: "Final SMTP replies per recipient from remote servers, by class (2xx, 4xx, 5xx, none).",
    labels: ["class"],
  },
  {
    name: "fastmta_dkim_failures_total",
    kind: "counter",
    help: "Messages DKIM could not sign (sent unsigned or held, per dkim.on_error).",
    labels: [],
  },
  {
    name: "fastmta_database_errors_total",
    kind: "counter",
    help: "Store operations that failed because the database was unreachable.",
    labels: [],
  },
  {
    name: "fastmta_broker_errors_total",
    kind: "counter",
    help: "RabbitMQ connections lost or refused.",
    labels: [],
  },
  {
    name: "fastmta_worker_restarts_total",
    kind: "counter",
    help: "Web Workers restarted after a crash, by kind (smtp, delivery, inject).",
    labels: ["kind"],
  },
  {
    name: "fastmta_process_resident_memory_bytes",
    kind: "gauge",
    help: "Resident set size of the process (all threads).",
    labels: [],
  },
  {
    name: "fastmta_heap_used_bytes",
    kind: "gauge",
    help: "V8 heap in use, by thread (main, smtp-0, delivery-1, ...).",
    labels: ["thread"],
  },
  {
    name: "fastmta_event_loop_lag_seconds",
    kind: "gauge",
    help: "Largest event-loop delay seen in the last second, by thread.",
    labels: ["thread"],
  },
  {
    name: "fastmta_uptime_seconds",
    kind: "gauge",
    help: "Seconds since this process started.",
    labels: [],
  },
];
