/**
 * "Delayed" DSNs (RFC 3464 Action: delayed): a recipient still deferred
 * `bounce.delay_notice_after` after its message arrived gets one notice to the sender, when
 * the sender asked (NOTIFY=DELAY) or, with `bounce.delay_notice: always`, when NOTIFY was not
 * given. Never to the null sender (nor about a DSN), never when NOTIFY excludes DELAY. Claims
 * are atomic per recipient row (any worker of any node may sweep); the row is marked "sent"
 * after the notice was accepted, so a crash in between repeats it (at-least-once), and a
 * recipient is never noticed twice otherwise.
 *
 * Talks to: the store, the acceptor. Reads config: bounce.delay_notice_after,
 * bounce.delay_notice, bounce.return_max_size, delivery.max_age, smtp.hostname (all live).
 */
import type { Config } from "../config/mod.ts";
import { newQueueId } from "../accept/mod.ts";
import type { NewMessage } from "../contracts/mod.ts";
import type { BodyStore, DelayDsnStore, DelayedWork } from "../store/mod.ts";
import { buildDsn, type DsnParams, dsnParamsFromMeta, smtpReplyOf, statusOf } from "./dsn.ts";
import { delayNotice } from "./policy.ts";

const CLAIM_BATCH = 100;

/** Whether the sender is to be told `address` is delayed. */
export function wantsDelayNotice(
  params: DsnParams,
  address: string,
  policy: "requested" | "always",
): boolean {
  const notify = params.rcpt.get(address.toLowerCase())?.notify;
  if (!notify) return policy === "always";
  return notify.includes("DELAY") && !notify.includes("NEVER");
}

/** Options for {@link DelayNotifier}. */
export interface DelayNotifierOptions {
  store: DelayDsnStore & Pick<BodyStore, "readBody">;
  acceptor: { submit(message: NewMessage): Promise<string> };
  config: Config;
  claimPrefix: string;
  log: (line: string) => void;
  onSubmitted?: (count: number) => void;
}

/** Sweeps for recipients due a "delayed" notice, on a timer derived from the live setting. */
export class DelayNotifier {
  #o: DelayNotifierOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: DelayNotifierOptions) {
    this.#o = options;
  }

  /** Releases this slot's abandoned claims and starts sweeping. */
  start(): void {
    this.#running = this.#o.store.releaseDelayedClaims(this.#o.claimPrefix).then(
      () => {},
      (e) => this.#o.log(`bounce: delayed DSNs: ${(e as Error).message}`),
    );
    this.#schedule();
  }

  /** Stops the timer and waits for a sweep in hand. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Runs one sweep now (also what the timer calls). */
  sweep(): Promise<void> {
    this.#running = this.#running.then(() => this.#sweep()).catch((error) => {
      this.#o.log(`bounce: delayed DSNs: ${(error as Error).message}`);
    });
    return this.#running;
  }

  #schedule() {
    if (this.#stopped) return;
    const after = delayNotice(this.#o.config).after;
    // A quarter of the delay, between 1 s and 1 min: a notice is late by at most that much.
    const every = after <= 0 ? 60_000 : Math.min(60_000, Math.max(1_000, after / 4));
    this.#timer = setTimeout(() => {
      this.sweep().finally(() => this.#schedule());
    }, every);
  }

  async #sweep() {
    const { store, config } = this.#o;
    const after = delayNotice(config).after;
    if (after <= 0) return;
    while (!this.#stopped) {
      const token = `${this.#o.claimPrefix}${crypto.randomUUID()}`;
      const claimed = await store.claimDelayed(token, Date.now() - after, CLAIM_BATCH);
      if (claimed.length === 0) return;
      let submitted = 0;
      for (const work of claimed) {
        try {
          if (await this.#notify(work)) submitted++;
        } catch (error) {
          // Left claimed: released (and tried again) when this slot restarts.
          this.#o.log(`bounce: delayed DSN for ${work.messageId}: ${(error as Error).message}`);
        }
      }
      if (submitted > 0) this.#o.onSubmitted?.(submitted);
      if (claimed.reduce((n, w) => n + w.recipients.length, 0) < CLAIM_BATCH) return;
    }
  }

  /** Sends one message's notice; true when one was submitted. */
  async #notify(work: DelayedWork): Promise<boolean> {
    const { store, config, acceptor, log } = this.#o;
    const all = work.recipients.map((r) => r.id);
    if (work.sender === "" || work.channel === "bounce") {
      await store.finishDelayed(all, "skipped");
      return false;
    }
    const params = dsnParamsFromMeta(work.meta);
    const wanted = work.recipients.filter((r) =>
      wantsDelayNotice(params, r.address, delayNotice(config).mode)
    );
    const wantedIds = new Set(wanted.map((r) => r.id));
    const skipped = all.filter((id) => !wantedIds.has(id));
    if (skipped.length > 0) await store.finishDelayed(skipped, "skipped");
    if (wanted.length === 0) return false;
    const original = await store.readBody(work.messageId) ?? new Uint8Array();
    const body = buildDsn({
      reportingMta: config.smtp.hostname,
      to: work.sender,
      queueId: work.messageId,
      envid: params.envid,
      arrivalDate: work.createdAt,
      ret: "HDRS",
      original,
      maxReturnSize: config.bounce.return_max_size,
      recipients: wanted.map((r) => {
        const smtpReply = smtpReplyOf(r.code, r.reply);
        const status = statusOf(r.code, r.reply, r.category);
        return {
          address: r.address,
          orcpt: params.rcpt.get(r.address.toLowerCase())?.orcpt ?? null,
          action: "delayed" as const,
          // A delayed notice carries a 4.x.x status whatever the last reply said.
          status: status.startsWith("4.") ? status : `4.${status.split(".").slice(1).join(".")}`,
          smtpReply,
          localReason: smtpReply ? null : r.reply,
          lastAttemptAt: r.updatedAt,
          willRetryUntil: work.createdAt + config.delivery.max_age,
        };
      }),
    });
    const id = await acceptor.submit({
      id: newQueueId(),
      sender: "",
      recipients: [work.sender],
      channel: "bounce",
      clientIp: null,
      receivedAt: Date.now(),
      body,
      meta: { dsn_for: work.messageId, dsn_action: "delayed" },
    });
    await store.finishDelayed([...wantedIds], "sent");
    log(
      `bounce: ${work.messageId}: delayed DSN ${id} to <${work.sender}> for ${wanted.length} recipients`,
    );
    return true;
  }
}
