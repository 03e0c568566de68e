/**
 * The `events` section: the event stream (core/events) and its two writers, the accounting log
 * (JSON lines with rotation) and webhooks (their settings; the webhooks themselves are stored
 * objects, `fastmta webhook add`). See docs/events.md and docs/webhooks.md.
 */
import { z } from "zod";
import { duration } from "./delivery_schema.ts";

const accounting = z.object({
  path: z.string().optional().meta({
    description: "File the accounting log is appended to (JSON lines, one event a line); no " +
      "accounting log when not set. Relative to the working folder.",
    live: false,
  }),
  rotate_size: z.number().int().min(0).default(100 * 1_048_576).meta({
    description: "Rotate the file once it holds this many bytes; 0 never rotates by size.",
    live: false,
  }),
  rotate_interval: duration.default(86_400_000).meta({
    description: "Rotate the file after this long; 0 never rotates by time.",
    live: false,
  }),
  gzip: z.boolean().default(false).meta({
    description: "Compress rotated files (`<path>.<time>.gz`).",
    live: false,
  }),
  exchange: z.string().optional().meta({
    description: "Distributed mode: also publish each event to this RabbitMQ topic exchange " +
      "(routing key = the event type, e.g. `delivered`).",
    live: false,
  }),
}).strict().prefault({}).meta({ description: "The accounting log (docs/events.md)." });

const webhooks = z.object({
  poll_interval: duration.pipe(z.number().min(10, "Expected at least 10ms")).default(500)
    .meta({
      description: "How often each node looks for webhook batches to post and webhooks added " +
        "or removed.",
      live: false,
    }),
  batch_size: z.number().int().min(1).max(10_000).default(500).meta({
    description: "Most events in one POST.",
    live: false,
  }),
  timeout: duration.default(10_000).meta({
    description: "How long a POST may take before it counts as failed.",
    live: false,
  }),
  retry_min: duration.default(1_000).meta({
    description: "First wait after a failed POST; doubles on each failure.",
    live: false,
  }),
  retry_max: duration.default(300_000).meta({
    description: "Longest wait between retries of a failed POST.",
    live: false,
  }),
  max_age: duration.default(86_400_000).meta({
    description: "A batch still failing when its oldest event is this old goes to the " +
      "webhook's dead-letter list (replay: `fastmta webhook replay`).",
    live: false,
  }),
  lease_time: duration.pipe(z.number().min(1_000, "Expected at least 1s")).default(30_000)
    .meta({
      description: "How long one node holds a webhook (posts its batches) before another may " +
        "take it over: each event is posted by one node of the cluster.",
      live: false,
    }),
}).strict().prefault({}).meta({ description: "Webhook delivery (docs/webhooks.md)." });

/** The `events` section of the configuration file. */
export const eventsSection = z.object({
  enabled: z.boolean().default(true).meta({
    description: "Emit events (reception, delivery, deferral, bounce, …) to the accounting log " +
      "and webhooks; off emits nothing.",
    live: false,
  }),
  buffer_size: z.number().int().min(100).max(1_000_000).default(20_000).meta({
    description: "Most events each thread holds unwritten; when full, new events are dropped " +
      "and counted (`events dropped` in the log), acceptance and delivery never wait.",
    live: false,
  }),
  flush_interval: duration.pipe(z.number().min(1, "Expected at least 1ms")).default(200).meta({
    description: "Longest wait before buffered events are written (one batch per write).",
    live: false,
  }),
  accounting,
  webhooks,
}).strict().prefault({}).meta({ description: "Events: accounting log and webhooks." });
