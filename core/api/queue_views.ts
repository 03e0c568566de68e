/**
 * `GET /api/v1/queue/by/{by}`: open units by destination domain, by pool or by vmta (the source
 * IP of a unit's last attempt), counted by state, the busiest first: the queue page's tabs.
 */
import { z } from "zod";

const count = z.number().int().nonnegative();

/** The path: what the view groups by. */
export const QueueViewParams = z.object({
  by: z.enum(["domain", "pool", "vmta"]).meta({ description: "domain, pool or vmta" }),
});

/** The query: how many rows (default 100). */
export const QueueViewQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** One row of a queue view. */
export const QueueViewRowSchema = z.strictObject({
  key: z.string().meta({
    description: 'The domain, pool or vmta address; "" for no pool or not tried yet',
  }),
  queued: count,
  deferred: count,
  paused: count,
  quarantined: count,
  total: count,
  pause_id: z.string().nullable().meta({
    description: "The pause in force on exactly this row (resume removes it), or null",
  }),
}).meta({ id: "QueueViewRow" });

/** The answer. */
export const QueueViewSchema = z.strictObject({
  by: z.enum(["domain", "pool", "vmta"]),
  rows: z.array(QueueViewRowSchema),
  counted: count.meta({ description: "Open units counted" }),
  sampled: z.boolean().meta({
    description: "More units are open than counted: the soonest due of each state were",
  }),
}).meta({ id: "QueueView" });
export type QueueViewBody = z.infer<typeof QueueViewSchema>;
