/**
 * The queue operations of `fastmta queue` (list, show, retry, cancel, bounce, hold, release,
 * job) and of `fastmta pause`, over the management plane's QueueService (core/manage): the CLI
 * holds no logic of its own. Filters are options (`--domain`, `--state`, …); an action with an
 * ID acts on that message, with a filter it starts a bulk job, shows the count first and a
 * progress bar on stderr while the job runs.
 */
import type { QueueJobBody, QueueUnitBody } from "../core/api/queue_ops.ts";
import type { Config } from "../core/config/mod.ts";
import { parseDuration } from "../core/config/duration.ts";
import { QueueService } from "../core/manage/queue_service.ts";
import { type Actor, NotFoundError, ValidationError } from "../core/manage/types.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { cliActor } from "./_manage.ts";
import { UsageError } from "./_usage.ts";

/** The filter options every listing and bulk action takes (names as in the API, with dashes). */
export const FILTER_OPTIONS = {
  id: { type: "string", value: "ID", description: "Message id" },
  sender: { type: "string", value: "ADDR", description: "Envelope sender" },
  recipient: { type: "string", value: "ADDR", description: "Envelope recipient" },
  domain: { type: "string", value: "DOMAIN", description: "Destination domain" },
  pool: { type: "string", value: "NAME", description: "Pool the message was sent with" },
  vmta: { type: "string", value: "IP|HOST", description: "A vmta that made an attempt" },
  tag: { type: "string", value: "TAG", description: "The message's tag" },
  state: {
    type: "choice",
    value: "STATE",
    choices: ["queued", "deferred", "paused", "quarantined", "done"],
    description: "Unit state",
  },
  "min-age": { type: "string", value: "AGE", description: 'Accepted at least AGE ago ("2h")' },
  "max-age": { type: "string", value: "AGE", description: 'Accepted at most AGE ago ("30m")' },
  reply: {
    type: "string",
    value: "TEXT",
    description:
      "The last reply: a code or enhanced status (451, 4.7.1; indexed) or other text (a scan)",
  },
} as const;

/** The filter option names. */
export const FILTER_NAMES = Object.keys(FILTER_OPTIONS) as (keyof typeof FILTER_OPTIONS)[];

/** The API filter of the given option values (dashes become underscores). */
export function filterOf(values: Record<string, unknown>): Record<string, string> {
  const filter: Record<string, string> = {};
  for (const name of FILTER_NAMES) {
    const value = values[name];
    if (typeof value === "string") filter[name.replace("-", "_")] = value;
  }
  return filter;
}

/** A progress bar on stderr: `[#####.....] 50 000 / 100 000 units, 49 998 changed`. */
function progressLine(job: QueueJobBody): string {
  const width = 30;
  const share = job.total === 0 ? 1 : Math.min(1, job.done / job.total);
  const filled = Math.round(share * width);
  return `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${job.done} / ${job.total} ` +
    `units, ${job.changed} changed`;
}

function unitLine(u: QueueUnitBody): string {
  const why = u.state === "quarantined" ? u.hold_reason : u.last_reply;
  return [u.unit_id, u.state, u.domain, u.sender || "<>", String(u.attempts), why ?? ""]
    .join("\t");
}

/**
 * Runs `fn` on a QueueService as the CLI's actor, closes the service after, and maps its errors
 * to exit codes (2: bad input, 1: not found).
 */
async function withQueueService(
  config: Config,
  store: SqlStore,
  fn: (service: QueueService, actor: Actor) => Promise<number>,
): Promise<number> {
  const service = new QueueService(store, config, console.error);
  try {
    return await fn(service, cliActor());
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message);
    if (error instanceof NotFoundError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  } finally {
    await service.close();
  }
}

/** What a queue operation gets from the command line. */
export interface QueueOpInput {
  action: string;
  id?: string;
  values: Record<string, unknown>;
}

/** Runs `queue list|show|retry|cancel|bounce|hold|release|job|recount`; returns the exit code. */
export function queueOperation(
  config: Config,
  store: SqlStore,
  input: QueueOpInput,
): Promise<number> {
  const { action, id, values } = input;
  return withQueueService(config, store, async (service, actor) => {
    if (action === "list") {
      const page = await service.search(actor, filterOf(values), {
        limit: values.limit as number | undefined,
        cursor: values.cursor as string | undefined,
      });
      if (values.json) console.log(JSON.stringify(page));
      else {
        for (const u of page.items) console.log(unitLine(u));
        if (page.next_cursor) console.error(`more: --cursor ${page.next_cursor}`);
      }
      return 0;
    }
    if (action === "show") {
      console.log(JSON.stringify(await service.message(actor, id!), null, 2));
      return 0;
    }
    if (action === "job") return await job(service, actor, id!, values.resume === true);
    if (action === "recount") {
      const totals = await service.recountTotals(actor);
      if (values.json) console.log(JSON.stringify(totals));
      else {
        for (const t of totals) {
          const note = t.before === t.after ? "" : ` (was ${t.before})`;
          console.log(`${t.state.padEnd(17)} ${String(t.after).padStart(10)}${note}`);
        }
      }
      return 0;
    }
    const reason = values.reason as string | undefined;
    if (id !== undefined) {
      const result = await service.act(actor, id, action, reason);
      // `cancel ID` prints what it always printed (core/api/schemas.ts CancelSchema).
      if (action === "cancel") {
        console.log(JSON.stringify({ units: result.units, recipients: result.recipients }));
      } else console.log(JSON.stringify(result));
      return 0;
    }
    const filter = filterOf(values);
    if (Object.keys(filter).length === 0) {
      throw new UsageError(`Give a message ID or a filter (--domain, --state, …) to ${action}`);
    }
    const request = { action, filter, reason, dry_run: values["dry-run"] === true };
    const { total, job: started } = await service.bulk(actor, request);
    console.error(`${total} units match`);
    if (!started) {
      console.log(JSON.stringify({ total }));
      return 0;
    }
    console.error(`job ${started.id}`);
    return await job(service, actor, started.id, true);
  });
}

/** Shows a job, or runs it from its cursor with a progress bar. */
async function job(service: QueueService, actor: Actor, id: string, run: boolean) {
  const current = await service.job(actor, id);
  if (!run || current.state !== "running") {
    console.log(JSON.stringify(current));
    return current.state === "failed" ? 1 : 0;
  }
  const end = await service.runJob(actor, id, (j) => {
    Deno.stderr.writeSync(new TextEncoder().encode(progressLine(j)));
  });
  console.error("");
  console.log(JSON.stringify(end));
  return end.state === "done" ? 0 : 1;
}

/** Runs `pause add|list|remove`; returns the exit code. */
export function pauseOperation(
  config: Config,
  store: SqlStore,
  input: { action: string; id?: string; values: Record<string, unknown> },
): Promise<number> {
  const { action, id, values } = input;
  return withQueueService(config, store, async (service, actor) => {
    if (action === "list") {
      const pauses = await service.listPauses(actor);
      if (values.json) console.log(JSON.stringify(pauses));
      else {
        for (const p of pauses) {
          const until = p.until === null ? "until removed" : new Date(p.until).toISOString();
          console.log(`${p.id}\t${p.description}\t${until}${p.in_force ? "" : " (ended)"}`);
        }
      }
      return 0;
    }
    if (action === "remove") {
      await service.removePause(actor, id!);
      console.log(`removed ${id}`);
      return 0;
    }
    const pause = await service.addPause(actor, pauseInput(values));
    console.log(JSON.stringify(pause));
    return 0;
  });
}

/** The pause of `pause add`'s options (`--pool NAME` or `--vmta IP`, `--for 2h`). */
function pauseInput(values: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  if (typeof values.pool === "string") {
    Object.assign(input, { source_kind: "pool", source: values.pool });
  }
  if (typeof values.vmta === "string") {
    Object.assign(input, { source_kind: "vmta", source: values.vmta });
  }
  if (typeof values.domain === "string") input.domain = values.domain;
  if (typeof values.tag === "string") input.tag = values.tag;
  if (typeof values.site === "string") input.site = values.site;
  if (typeof values.reason === "string") input.reason = values.reason;
  if (typeof values.for === "string") {
    try {
      input.until = Date.now() + parseDuration(values.for);
    } catch (error) {
      throw new UsageError(`--for: ${(error as Error).message}`);
    }
  }
  return input;
}
