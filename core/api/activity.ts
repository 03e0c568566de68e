/**
 * `GET /api/v1/activity`: the dashboard's series (per minute: accepted, delivered, deferred,
 * bounced, latency p50/p99) and the queue counts now. Imports nothing but zod and the shared
 * schemas, so the chart island types what it fetches with it.
 */
import { z } from "zod";
import { QueueCountsSchema } from "./schemas.ts";

const count = z.number().int().nonnegative();

/** One minute of the series. */
export const ActivityMinuteSchema = z.strictObject({
  minute: z.number().meta({ description: "Start of the minute, ms since the epoch" }),
  accepted: count,
  delivered: count,
  deferred: count,
  bounced: count,
  latency_p50: z.number().nullable().meta({ description: "Delivery latency median, ms" }),
  latency_p99: z.number().nullable().meta({ description: "Delivery latency 99th percentile, ms" }),
}).meta({ id: "ActivityMinute" });

/** The query: how many minutes back (default 60). */
export const ActivityQuery = z.object({
  minutes: z.coerce.number().int().min(1).max(1440).default(60),
});

/** The answer. */
export const ActivitySchema = z.strictObject({
  at: z.number(),
  minutes: z.array(ActivityMinuteSchema),
  queue: QueueCountsSchema,
}).meta({ id: "Activity" });
export type ActivityBody = z.infer<typeof ActivitySchema>;
