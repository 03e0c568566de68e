/**
 * Bulk queue jobs (migrations/0014_queue_ops.ts): one row per action by filter, with its
 * progress. The runner (core/manage/bulk_jobs.ts) moves `last_id` on after each chunk in the
 * same call that counts it, so progress is readable while it runs and a job resumes after a
 * restart from the chunk it was on.
 */
import type { SqlContext } from "./_sql.ts";

/** One job as stored. */
export interface QueueJobRecord {
  id: string;
  action: string;
  /** The filter as JSON text. */
  filter: string;
  state: "running" | "done" | "failed";
  total: number;
  done: number;
  changed: number;
  lastId: string | null;
  error: string | null;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

/** Bulk jobs (the store role). */
export interface QueueJobStore {
  insertJob(job: Omit<QueueJobRecord, "done" | "changed" | "lastId" | "error">): Promise<void>;
  getJob(id: string): Promise<QueueJobRecord | null>;
  /** Jobs, newest first. */
  listJobs(limit: number): Promise<QueueJobRecord[]>;
  /** Counts one chunk done: the cursor moves on to `lastId`. */
  advanceJob(
    id: string,
    step: { lastId: string; done: number; changed: number; at: number },
  ): Promise<void>;
  finishJob(
    id: string,
    end: { state: "done" | "failed"; error?: string; at: number },
  ): Promise<void>;
}

type JobRow = {
  id: string;
  action: string;
  filter_json: string;
  state: string;
  total: number;
  done: number;
  changed: number;
  last_id: string | null;
  error: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
};

function recordOf(r: JobRow): QueueJobRecord {
  return {
    id: r.id,
    action: r.action,
    filter: r.filter_json,
    state: r.state === "done" || r.state === "failed" ? r.state : "running",
    total: Number(r.total),
    done: Number(r.done),
    changed: Number(r.changed),
    lastId: r.last_id,
    error: r.error,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** The job store on one database. */
export function queueJobRepository({ db }: SqlContext): QueueJobStore {
  return {
    insertJob: async (job) => {
      await db.insertInto("queue_jobs").values({
        id: job.id,
        action: job.action,
        filter_json: job.filter,
        state: job.state,
        total: job.total,
        last_id: null,
        error: null,
        created_by: job.createdBy,
        created_at: job.createdAt,
        updated_at: job.updatedAt,
      }).execute();
    },
    getJob: async (id) => {
      const row = await db.selectFrom("queue_jobs").selectAll().where("id", "=", id)
        .executeTakeFirst();
      return row ? recordOf(row) : null;
    },
    listJobs: async (limit) => {
      const rows = await db.selectFrom("queue_jobs").selectAll().orderBy("created_at", "desc")
        .limit(limit).execute();
      return rows.map(recordOf);
    },
    advanceJob: async (id, step) => {
      await db.updateTable("queue_jobs").set((eb) => ({
        last_id: step.lastId,
        done: eb("done", "+", step.done),
        changed: eb("changed", "+", step.changed),
        updated_at: step.at,
      })).where("id", "=", id).execute();
    },
    finishJob: async (id, end) => {
      await db.updateTable("queue_jobs")
        .set({ state: end.state, error: end.error ?? null, updated_at: end.at })
        .where("id", "=", id).execute();
    },
  };
}
