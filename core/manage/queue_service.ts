/**
 * The queue operations service, as every face (REST API, CLI, console) calls it: search, one
 * message's detail and actions, bulk jobs and pauses, each checking the actor's role and
 * recording an audit entry for every change. It opens its own queue (the `operate` role) on
 * first use: with RabbitMQ, retry and release publish new copies.
 */
import type { ActionResultBody, BulkRequest, QueueJobBody } from "../api/queue_ops.ts";
import { QueueActionSchema } from "../api/queue_ops.ts";
import type { Config } from "../config/mod.ts";
import { openQueue, type OperateQueue } from "../queue/mod.ts";
import type { MessageDetailBody } from "../api/schemas.ts";
import { messageDetail } from "../queue/quarantine.ts";
import { messageDetailDocument } from "./api_documents.ts";
import type { Store, TotalRecount } from "../store/mod.ts";
import { recordAudit } from "./audit.ts";
import { createJob, getJob, runJob } from "./bulk_jobs.ts";
import { addPause, listPauses, type PauseDeps, removePause } from "./pauses.ts";
import { pauseAnnouncer } from "./broadcast.ts";
import { applyAction } from "./queue_actions.ts";
import { ACT_ROLES, allow, READ_ROLES, searchQueue } from "./queue_search.ts";
import { type Actor, NotFoundError, ValidationError } from "./types.ts";

/** Units of one message an action may touch (a message has one unit per domain). */
const MESSAGE_UNITS = 1_000;

/** Queue operations over one store. */
export class QueueService {
  readonly #store: Store;
  readonly #config: Config;
  readonly #log: (line: string) => void;
  #queue: Promise<OperateQueue> | null = null;
  #pauses: PauseDeps;

  constructor(store: Store, config: Config, log: (line: string) => void) {
    this.#store = store;
    this.#config = config;
    this.#log = log;
    this.#pauses = { store, announce: pauseAnnouncer(config, config.nodeId), log };
  }

  #deps = async () => ({
    store: this.#store,
    config: this.#config,
    log: this.#log,
    queue: await (this.#queue ??= openQueue(this.#config, this.#store, {
      role: "operate",
      log: this.#log,
    })),
  });

  /** A page of units matching a filter (query parameters or JSON, snake_case). */
  search(actor: Actor, filter: unknown, page?: { cursor?: string; limit?: number }) {
    return searchQueue({ store: this.#store, config: this.#config }, actor, filter, page);
  }

  /**
   * Recounts the terminal recipient totals from the rows (admins only; audited with the totals
   * before and after): the repair for totals that a node of an older version did not keep.
   */
  async recountTotals(actor: Actor): Promise<TotalRecount[]> {
    allow(actor, ["admin"], "recount the queue totals");
    const totals = await this.#store.recountTotals();
    const changed = totals.filter((t) => t.before !== t.after);
    await recordAudit(this.#store, actor, {
      kind: "queue",
      object_id: "recipient_totals",
      action: "recount",
      before: Object.fromEntries(totals.map((t) => [t.state, t.before])),
      after: Object.fromEntries(totals.map((t) => [t.state, t.after])),
    });
    this.#log(`queue: ${actor.name} recounted the recipient totals: ${changed.length} corrected`);
    return totals;
  }

  /** One message with its recipients, units and attempts. */
  async message(actor: Actor, id: string): Promise<MessageDetailBody> {
    allow(actor, READ_ROLES, "read the queue");
    const detail = await messageDetail(this.#store, id);
    if (!detail) throw new NotFoundError("message", id);
    return messageDetailDocument(detail);
  }

  /** retry, cancel, bounce, hold or release one message (every unit of it). */
  async act(actor: Actor, id: string, action: unknown, reason?: string): Promise<ActionResultBody> {
    allow(actor, ACT_ROLES, "act on the queue");
    const checked = QueueActionSchema.safeParse(action);
    if (!checked.success) {
      throw new ValidationError([{
        path: "action",
        message: `expected one of ${QueueActionSchema.options.join(", ")}`,
      }]);
    }
    const units = await this.#store.searchUnits({ messageId: id }, { limit: MESSAGE_UNITS });
    if (units.length === 0) throw new NotFoundError("message", id);
    const ids = units.map((u) => u.id);
    let recipients: number | undefined;
    let changed: number;
    if (checked.data === "cancel") {
      const who = reason ? `${actor.name}: ${reason}` : actor.name;
      const result = await this.#store.cancelUnits(ids, `cancelled by ${who}`, Date.now());
      ({ units: changed, recipients } = result);
    } else {
      changed = await applyAction(await this.#deps(), checked.data, ids, actor, reason);
    }
    await recordAudit(this.#store, actor, {
      kind: "message",
      object_id: id,
      action: checked.data,
      after: { units: changed, recipients: recipients ?? null, reason: reason ?? null },
    });
    this.#log(`queue: ${actor.name} ${checked.data} message ${id}: ${changed} units`);
    const result: ActionResultBody = { message_id: id, action: checked.data, units: changed };
    return recipients === undefined ? result : { ...result, recipients };
  }

  /** The preview (`dry_run`) or a new bulk job (run it with {@link runJob}). */
  async bulk(actor: Actor, request: BulkRequest | unknown) {
    return createJob(await this.#deps(), actor, request);
  }

  /** Works a job through (from its cursor); progress after each chunk. */
  async runJob(actor: Actor, id: string, onProgress?: (job: QueueJobBody) => void) {
    return runJob(await this.#deps(), actor, id, onProgress);
  }

  /** A job's progress. */
  job(actor: Actor, id: string): Promise<QueueJobBody> {
    allow(actor, READ_ROLES, "read the queue");
    return getJob({ store: this.#store }, id);
  }

  addPause(actor: Actor, input: unknown) {
    return addPause(this.#pauses, actor, input);
  }

  listPauses(actor: Actor) {
    return listPauses(this.#pauses, actor);
  }

  removePause(actor: Actor, id: string) {
    return removePause(this.#pauses, actor, id);
  }

  /** Closes the queue it opened (the store stays the caller's). */
  async close(): Promise<void> {
    if (this.#queue) await (await this.#queue).close();
  }
}
