/**
 * After settle: records new suppressions and sends the delivery status notifications that
 * settle marked due (`recipients.dsn = 'pending'`, written in the settle transaction so none is
 * lost). A DSN is a new message from the null sender, submitted through core/accept with
 * channel "bounce"; none goes to the null sender, and so none is ever sent about a DSN.
 *
 * Claims are atomic per recipient row, so several workers (or nodes) never build the same
 * report; a claim left by a crashed worker is returned to pending when that worker restarts.
 * A crash between submitting a DSN and marking it sent repeats the DSN (at-least-once).
 * A report that throws for its own reasons is that message's failure only: its recipients are
 * counted (`recipients.dsn_failures`), retried at once and quarantined at
 * `queue.quarantine_after` (docs/quarantine.md); the other reports of the batch go on. The
 * database or broker being away stops the pass and counts nothing.
 *
 * Talks to: the store, the acceptor. Reads config: bounce.*, smtp.hostname.
 */
import type { Config } from "../config/mod.ts";
import { newQueueId } from "../accept/mod.ts";
import type { NewMessage, UnitOutcome } from "../contracts/mod.ts";
import type {
  BodyStore,
  DsnStore,
  DsnWork,
  QuarantineStore,
  SuppressionStore,
} from "../store/mod.ts";
import {
  buildDsn,
  type DsnInput,
  dsnParamsFromMeta,
  rcptParams,
  smtpReplyOf,
  statusOf,
  wantsFailureNotice,
} from "./dsn.ts";
import { suppressionsFrom } from "./suppression.ts";
import { failureReason, isInfrastructureError } from "../queue/failures.ts";
import { faultPoint } from "../fault_points.ts";
import { emitEvent } from "../events/mod.ts";

/** What a report plan decided for one message. */
export interface DsnPlan {
  /** The report to send, or null when nobody is to be told. */
  dsn: DsnInput | null;
  sendIds: number[];
  skipIds: number[];
  /** Why recipients were skipped, for the log. */
  skipped: string | null;
}

/** Decides whether and what to report for one message's failed recipients. */
export function planDsn(
  work: DsnWork,
  options: { enabled: boolean; reportingMta: string; maxReturnSize: number },
): Omit<DsnPlan, "dsn"> & { dsn: Omit<DsnInput, "original"> | null } {
  const all = work.recipients.map((r) => r.id);
  if (!options.enabled) {
    return { dsn: null, sendIds: [], skipIds: all, skipped: "DSNs are disabled" };
  }
  if (work.sender === "" || work.channel === "bounce") {
    return { dsn: null, sendIds: [], skipIds: all, skipped: "null sender" };
  }
  const params = dsnParamsFromMeta(work.meta);
  const wanted = work.recipients.filter((r) => wantsFailureNotice(params, r.address));
  const wantedIds = new Set(wanted.map((r) => r.id));
  const skipIds = all.filter((id) => !wantedIds.has(id));
  const skipped = skipIds.length > 0 ? "NOTIFY excludes FAILURE" : null;
  if (wanted.length === 0) return { dsn: null, sendIds: [], skipIds, skipped };
  return {
    dsn: {
      reportingMta: options.reportingMta,
      to: work.sender,
      queueId: work.messageId,
      envid: params.envid,
      arrivalDate: work.createdAt,
      ret: params.ret ?? "FULL",
      maxReturnSize: options.maxReturnSize,
      recipients: wanted.map((r) => {
        const smtpReply = smtpReplyOf(r.code, r.reply);
        return {
          address: r.address,
          orcpt: rcptParams(params, r.address)?.orcpt ?? null,
          action: "failed" as const,
          status: statusOf(r.code, r.reply, r.category),
          remoteMta: smtpReply ? r.mxHost : null,
          remoteIp: smtpReply ? r.remoteIp : null,
          smtpReply,
          localReason: smtpReply ? null : r.reply,
          lastAttemptAt: r.updatedAt,
        };
      }),
    },
    sendIds: [...wantedIds],
    skipIds,
    skipped,
  };
}

/** Options for {@link BounceProcessor}. */
export interface BounceProcessorOptions {
  store:
    & DsnStore
    & Pick<BodyStore, "readBody">
    & Pick<SuppressionStore, "addSuppressions">
    & { readonly quarantine: Pick<QuarantineStore, "recordDsnFailures"> };
  /** The single door (core/accept): only `submit` is used. */
  acceptor: { submit(message: NewMessage): Promise<string> };
  config: Config;
  /** Prefix of this claimer's tokens, unique per worker slot, e.g. "claim:node-a:0:". */
  claimPrefix: string;
  log: (line: string) => void;
  /** Called after DSNs were accepted (to wake the scheduler). */
  onSubmitted?: (count: number) => void;
}

const CLAIM_BATCH = 100;

/** Runs suppression and DSN work after each settled batch, one pass at a time. */
export class BounceProcessor {
  #o: BounceProcessorOptions;
  #chain: Promise<void> = Promise.resolve();

  constructor(options: BounceProcessorOptions) {
    this.#o = options;
  }

  /** Queues the follow-up of a settled batch (returns at once; see `idle`). */
  afterSettle(outcomes: UnitOutcome[]): void {
    const suppress = suppressionsFrom(outcomes, this.#o.config.bounce.suppression_time);
    const failedIn = new Set<string>();
    for (const o of outcomes) {
      if (o.results.some((r) => r.outcome === "failed" || r.outcome === "suppressed")) {
        failedIn.add(o.messageId);
      }
    }
    if (suppress.length === 0 && failedIn.size === 0) return;
    this.#enqueue(async () => {
      if (suppress.length > 0) {
        await this.#o.store.addSuppressions(suppress);
        for (const s of suppress) {
          this.#o.log(
            `bounce: suppressing <${s.address}> until ${new Date(s.expiresAt ?? 0).toISOString()}`,
          );
          emitEvent({
            type: "suppression_added",
            recipient: s.address,
            message_id: s.messageId ?? undefined,
            code: s.code,
            reply: s.reason ?? undefined,
            category: s.category,
            reason: `hard bounce, until ${new Date(s.expiresAt ?? 0).toISOString()}`,
          });
        }
      }
      if (failedIn.size > 0) await this.#sendDue([...failedIn]);
    });
  }

  /** Returns this slot's abandoned claims to pending and sends every due DSN. */
  recover(): Promise<void> {
    this.#enqueue(async () => {
      const released = await this.#o.store.releaseDsnClaims(this.#o.claimPrefix);
      if (released > 0) this.#o.log(`bounce: resuming ${released} unfinished DSN recipients`);
      await this.#sendDue(undefined);
    });
    return this.idle();
  }

  /** Sends every due DSN (a periodic catch-up for passes that failed). */
  sweep(): void {
    this.#enqueue(() => this.#sendDue(undefined));
  }

  /** Resolves when queued work is done. */
  async idle(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.#chain;
      await current;
    } while (current !== this.#chain);
  }

  #enqueue(job: () => Promise<void>) {
    this.#chain = this.#chain.then(job).catch((error) => {
      this.#o.log(`bounce: ${(error as Error).message}`);
    });
  }

  async #sendDue(messageIds: string[] | undefined) {
    while (true) {
      const token = `${this.#o.claimPrefix}${crypto.randomUUID()}`;
      const claimed = await this.#o.store.claimDsns({
        token,
        messageIds,
        limit: CLAIM_BATCH,
      });
      if (claimed.length === 0) return;
      let submitted = 0;
      const again = new Set<string>();
      for (const work of claimed) {
        try {
          faultPoint("dsn", work.messageId); // TEST ONLY (core/fault_points.ts)
          if (await this.#report(work)) submitted++;
        } catch (error) {
          if (isInfrastructureError(error) || error instanceof DsnSubmitError) {
            // The door could not take it (the store or broker is away, the disk is full): a
            // batch-wide trouble, not this report's; leave them pending for the next pass.
            await this.#o.store.releaseDsnClaims(token);
            throw new Error(
              `cannot send the DSN for ${work.messageId}: ${(error as Error).message}`,
            );
          }
          if (!(await this.#failed(work, token, error))) again.add(work.messageId);
        }
      }
      if (submitted > 0) this.#o.onSubmitted?.(submitted);
      // Bounded: each round counts a failure, and the limit quarantines.
      if (again.size > 0) await this.#sendDue([...again]);
      const count = claimed.reduce((n, w) => n + w.recipients.length, 0);
      if (count < CLAIM_BATCH) return;
    }
  }

  /** Counts a report's own failure on its recipients; true when that quarantined them. */
  async #failed(work: DsnWork, token: string, error: unknown): Promise<boolean> {
    const { store, config, log } = this.#o;
    const reason = failureReason("dsn", error);
    const ids = work.recipients.map((r) => r.id);
    const quarantined = await store.quarantine.recordDsnFailures(
      ids,
      token,
      config.queue.quarantine_after,
    );
    if (quarantined > 0) {
      emitEvent({ type: "quarantined", subject: "dsn", message_id: work.messageId, reason });
      log(
        `quarantine: the DSN for ${work.messageId} quarantined (${quarantined} recipients): ` +
          `${reason} (release: fastmta queue release ${work.messageId})`,
      );
      return true;
    }
    log(`bounce: ${work.messageId}: handling failure: ${reason}; trying again`);
    return false;
  }

  /** Builds and submits one report; true when a DSN was submitted. */
  async #report(work: DsnWork): Promise<boolean> {
    const { config, store, acceptor, log } = this.#o;
    const plan = planDsn(work, {
      enabled: config.bounce.dsn,
      reportingMta: config.smtp.hostname,
      maxReturnSize: config.bounce.return_max_size,
    });
    if (plan.skipIds.length > 0) {
      await store.finishDsns(plan.skipIds, "skipped");
      log(
        `bounce: ${work.messageId}: no DSN for ${plan.skipIds.length} recipients: ${plan.skipped}`,
      );
    }
    if (!plan.dsn) return false;
    const original = await store.readBody(work.messageId) ?? new Uint8Array();
    const body = buildDsn({ ...plan.dsn, original });
    const id = await submitDsn(acceptor, {
      id: newQueueId(),
      sender: "",
      recipients: [work.sender],
      channel: "bounce",
      clientIp: null,
      receivedAt: Date.now(),
      body,
      meta: { dsn_for: work.messageId },
    });
    await store.finishDsns(plan.sendIds, "sent");
    log(
      `bounce: ${work.messageId}: DSN ${id} to <${work.sender}> for ${plan.sendIds.length} recipients`,
    );
    return true;
  }
}

/** The accept door refused a DSN: the store or queue could not make it durable. */
class DsnSubmitError extends Error {
  override name = "DsnSubmitError";
}

/** Submits a built DSN; a rejection is the door's trouble, never counted against the report. */
async function submitDsn(
  acceptor: { submit(message: NewMessage): Promise<string> },
  message: NewMessage,
): Promise<string> {
  try {
    return await acceptor.submit(message);
  } catch (error) {
    throw new DsnSubmitError((error as Error).message, { cause: error });
  }
}
