/**
 * Bulk queue actions by filter: a count preview (`dry_run`), then a job row (id, filter, action,
 * total, done, changed, state) worked through in keyset chunks of {@link JOB_CHUNK} unit ids —
 * never more ids than that in memory, whatever the selection. Each chunk moves the job's cursor
 * on in the store, so its progress is readable (`GET` the job, `fastmta queue job ID`) while it
 * runs, and a job stopped by a restart continues from its cursor when run again
 * (`fastmta queue job ID --resume`; nothing resumes it by itself). Ages in the filter count from
 * the job's creation, so a resumed job selects what it selected.
 */
import {
  type BulkRequest,
  BulkRequestSchema,
  type QueueAction,
  type QueueFilter,
  type QueueJobBody,
} from "../api/queue_ops.ts";
import type { Config } from "../config/mod.ts";
import type {
  ConfigObjectStore,
  QueueJobRecord,
  QueueJobStore,
  QueueSearchStore,
} from "../store/mod.ts";
import { recordAudit } from "./audit.ts";
import { fieldIssues } from "./objects.ts";
import { type ActionDeps, applyAction } from "./queue_actions.ts";
import { ACT_ROLES, allow, storeFilter } from "./queue_search.ts";
import { type Actor, NotFoundError, ValidationError } from "./types.ts";

/** Units per chunk of a job. */
export const JOB_CHUNK = 1_000;

/** What jobs take besides the actions' needs. */
export type JobDeps = ActionDeps & {
  store:
    & ActionDeps["store"]
    & QueueJobStore
    & Pick<QueueSearchStore, "countUnits">
    & Pick<ConfigObjectStore, "recordAudit">;
  config: Config;
};

/** A stored job as the API answers it. */
export function jobBody(job: QueueJobRecord): QueueJobBody {
  return {
    id: job.id,
    action: job.action as QueueAction,
    filter: JSON.parse(job.filter) as QueueFilter,
    state: job.state,
    total: job.total,
    done: job.done,
    changed: job.changed,
    error: job.error,
    created_by: job.createdBy,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
  };
}

/** Checks a bulk request (ValidationError naming the field). */
export function parseBulk(input: unknown) {
  const parsed = BulkRequestSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  return parsed.data;
}

/**
 * The preview (`dry_run`: how many units the filter selects now) or a new job, not yet run
 * (see {@link runJob}).
 */
export async function createJob(
  deps: JobDeps,
  actor: Actor,
  input: BulkRequest | unknown,
): Promise<{ total: number; job?: QueueJobBody }> {
  allow(actor, ACT_ROLES, "act on the queue");
  const request = parseBulk(input);
  const now = Date.now();
  const total = await deps.store.countUnits(storeFilter(request.filter, deps.config, now));
  if (request.dry_run) return { total };
  const id = `job-${crypto.randomUUID().replaceAll("-", "")}`;
  const record = {
    id,
    action: request.action,
    filter: JSON.stringify({ ...request.filter }),
    state: "running" as const,
    total,
    createdBy: actor.name,
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.insertJob(record);
  await recordAudit(deps.store, actor, {
    kind: "queue_job",
    object_id: id,
    action: request.action,
    after: { filter: request.filter, total, reason: request.reason ?? null },
  });
  return { total, job: jobBody({ ...record, done: 0, changed: 0, lastId: null, error: null }) };
}

/** One job, for progress. */
export async function getJob(deps: Pick<JobDeps, "store">, id: string): Promise<QueueJobBody> {
  const job = await deps.store.getJob(id);
  if (!job) throw new NotFoundError("queue job", id);
  return jobBody(job);
}

/**
 * Works a job through from its cursor to the end, chunk by chunk; `onProgress` after each.
 * Resolves with the job as it ended (failed with the error if a chunk threw).
 */
export async function runJob(
  deps: JobDeps,
  actor: Actor,
  id: string,
  onProgress: (job: QueueJobBody) => void = () => {},
  reason?: string,
): Promise<QueueJobBody> {
  allow(actor, ACT_ROLES, "act on the queue");
  const job = await deps.store.getJob(id);
  if (!job) throw new NotFoundError("queue job", id);
  if (job.state !== "running") return jobBody(job);
  const filter = storeFilter(JSON.parse(job.filter), deps.config, job.createdAt);
  let after = job.lastId ?? undefined;
  try {
    for (;;) {
      const page = await deps.store.searchUnits(filter, { after, limit: JOB_CHUNK });
      if (page.length === 0) break;
      const ids = page.map((u) => u.id);
      const changed = await applyAction(deps, job.action as QueueAction, ids, actor, reason);
      after = ids[ids.length - 1];
      await deps.store.advanceJob(id, { lastId: after, done: ids.length, changed, at: Date.now() });
      onProgress(await getJob(deps, id));
    }
    await deps.store.finishJob(id, { state: "done", at: Date.now() });
  } catch (error) {
    const message = (error as Error).message;
    deps.log(`queue job ${id} failed: ${message}`);
    await deps.store.finishJob(id, { state: "failed", error: message, at: Date.now() });
  }
  return await getJob(deps, id);
}
