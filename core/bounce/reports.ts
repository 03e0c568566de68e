/**
 * The bounce-report processor: the SMTP listener hands it mail for bounce/feedback domains
 * (never the queue). `receive` stores the raw report durably before the listener's 250; the
 * report is then claimed (atomically, so one processor per report even across nodes), parsed,
 * matched and applied:
 * - an asynchronous hard bounce (permanent, bad mailbox or domain) marks the delivered
 *   recipient bounced and suppresses the address (source "dsn");
 * - any other permanent failure marks it bounced, without suppressing;
 * - a soft bounce (delayed, 4.x.x) is only recorded;
 * - a complaint (ARF) suppresses the address for the message's sending domain;
 * - auto-replies and unrecognised mail are recorded and ignored.
 * Every report is kept (`bounce.report_retention`) with what was found, for the message page.
 * A report whose processing throws stays claimed by its processor until that processor
 * restarts (then it is tried again); stored reports are never lost.
 *
 * Talks to: the store. Reads config: bounce.*, bounceRules, smtp.hostname.
 */
import type { Config } from "../config/mod.ts";
import { acceptedBounceDomains, verpDomains } from "./policy.ts";
import { newQueueId } from "../accept/mod.ts";
import { domainOf, localPartOf } from "../mail/mod.ts";
import type {
  BounceReport,
  BounceReportResult,
  BounceReportStore,
  SenderSuppressionStore,
  SuppressionStore,
} from "../store/mod.ts";
import { type Matched, matchReport, verifyToken, verpTokenOfAddress } from "./report_match.ts";
import type { TokenKey } from "./tokens.ts";
import type { ReportVerdict } from "./report_verdict.ts";
import { isInfrastructureError } from "../queue/failures.ts";
import { emitEvent } from "../events/emit.ts";

const CLAIM_BATCH = 50;
const SWEEP_MS = 30_000;

/** What the processor takes from the store. */
export type ReportProcessorStore =
  & BounceReportStore
  & Pick<SuppressionStore, "addSuppressions">
  & Pick<SenderSuppressionStore, "addSenderSuppressions">;

/** Options for {@link BounceReportProcessor}. */
export interface ReportProcessorOptions {
  store: ReportProcessorStore;
  config: Config;
  key: TokenKey;
  /** Prefix of this processor's claims, unique per worker slot. */
  claimPrefix: string;
  log: (line: string) => void;
}

/** A received report's envelope. */
export interface ReceivedReport {
  mailFrom: string;
  rcptTo: string[];
  clientIp: string | null;
  raw: Uint8Array;
}

/** The record of a report that could not be parsed or matched. */
function unreadable(error: unknown): BounceReportResult {
  return {
    state: "processed",
    kind: "unknown",
    messageId: null,
    recipient: null,
    category: null,
    status: null,
    detail: `unreadable: ${(error as Error).message ?? String(error)}`.slice(0, 500),
    processedAt: Date.now(),
  };
}

/** Parses, matches and applies reports; one pass at a time. */
export class BounceReportProcessor {
  #o: ReportProcessorOptions;
  #chain: Promise<void> = Promise.resolve();
  #sweep: ReturnType<typeof setInterval> | undefined;

  constructor(options: ReportProcessorOptions) {
    this.#o = options;
  }

  /** Whether mail to `domain` is for the bounce processor. */
  isBounceDomain(domain: string): boolean {
    return acceptedBounceDomains(this.#o.config).has(domain.toLowerCase());
  }

  /**
   * Why RCPT TO `address` (at a bounce domain) is refused, or null to accept it: at the VERP
   * domain every local part but postmaster and abuse must be a valid, unexpired token.
   */
  async refusal(address: string): Promise<string | null> {
    const { config, store, key } = this.#o;
    if (!verpDomains(config).has(domainOf(address).toLowerCase())) return null;
    const local = localPartOf(address).toLowerCase();
    if (local === "postmaster" || local === "abuse") return null;
    const token = verpTokenOfAddress(config, address);
    if (!token) return "no such bounce address";
    const verified = await verifyToken(store, key, config, token, Date.now());
    return "refused" in verified ? verified.refused : null;
  }

  /** Stores a received report durably (then processes it soon); resolves with its id. */
  async receive(report: ReceivedReport): Promise<string> {
    const id = newQueueId();
    const now = Date.now();
    await this.#o.store.saveBounceReport({
      id,
      receivedAt: now,
      clientIp: report.clientIp,
      mailFrom: report.mailFrom,
      rcptTo: report.rcptTo,
      raw: report.raw,
      expiresAt: now + this.#o.config.bounce.report_retention,
    });
    this.#enqueue(() => this.#processDue([id]));
    return id;
  }

  /** Returns this slot's abandoned claims, processes what is due, and sweeps periodically. */
  start(): void {
    this.#enqueue(async () => {
      const released = await this.#o.store.releaseBounceReportClaims(this.#o.claimPrefix);
      if (released > 0) this.#o.log(`bounce: resuming ${released} unprocessed reports`);
      await this.#processDue(undefined);
    });
    this.#sweep = setInterval(() => {
      this.#enqueue(async () => {
        await this.#processDue(undefined);
        const purged = await this.#o.store.purgeBounceReports(Date.now());
        if (purged > 0) this.#o.log(`bounce: purged ${purged} expired reports`);
      });
    }, SWEEP_MS);
  }

  /** Resolves when queued work is done. */
  async idle(): Promise<void> {
    let current: Promise<void>;
    do {
      current = this.#chain;
      await current;
    } while (current !== this.#chain);
  }

  /** Stops the sweep and waits for work in hand. */
  async stop(): Promise<void> {
    clearInterval(this.#sweep);
    await this.idle();
  }

  #enqueue(job: () => Promise<void>) {
    this.#chain = this.#chain.then(job).catch((error) => {
      this.#o.log(`bounce: reports: ${(error as Error).message}`);
    });
  }

  async #processDue(ids: string[] | undefined) {
    while (true) {
      const token = `${this.#o.claimPrefix}${crypto.randomUUID()}`;
      const claimed = await this.#o.store.claimBounceReports(token, CLAIM_BATCH, ids);
      for (const report of claimed) {
        let result: BounceReportResult;
        try {
          result = await this.#process(report);
        } catch (error) {
          // The store or broker away: leave it claimed (released when this slot restarts).
          if (isInfrastructureError(error)) throw error;
          // Hostile or broken input is this report's trouble only: keep it, marked unreadable.
          result = unreadable(error);
          this.#o.log(`bounce: report ${report.id} unreadable: ${(error as Error).message}`);
        }
        await this.#o.store.finishBounceReport(report.id, result);
      }
      if (ids || claimed.length < CLAIM_BATCH) return;
    }
  }

  async #process(report: BounceReport): Promise<BounceReportResult> {
    const { store, config, key, log } = this.#o;
    const now = Date.now();
    // Loaded on the first report: mailparser (+iconv-lite, libmime…) is ~15 MB of heap that an
    // SMTP worker taking only queued mail never needs (tests/lazy_imports_test.ts).
    const { parseReport } = await import("./report_parse.ts");
    // And the classification (re2js, ~0.6 MB of heap) with it.
    const { verdictOf } = await import("./report_verdict.ts");
    const parsed = await parseReport(report.raw);
    const base = { processedAt: now, status: null, category: null };
    const match = await matchReport(store, key, config, parsed, report.rcptTo, now);
    if (match.kind === "refused") {
      log(`bounce: report ${report.id} from ${report.clientIp ?? "?"} refused: ${match.reason}`);
      return {
        ...base,
        state: "refused",
        kind: parsed.kind,
        messageId: null,
        recipient: null,
        detail: `${parsed.format}: ${match.reason}`,
      };
    }
    const matched = match.kind === "matched" ? match.matched : null;
    const verdict = verdictOf(parsed, matched?.recipient?.address ?? null, config.bounceRules);
    const detail = [
      parsed.format,
      matched ? `matched by ${matched.via}` : "unmatched",
      parsed.feedbackType ? `feedback-type ${parsed.feedbackType}` : null,
      verdict.entry?.diagnostic ?? null,
    ].filter((p) => p).join("; ");
    const result: BounceReportResult = {
      state: "processed",
      kind: verdict.kind,
      messageId: matched?.message.id ?? null,
      recipient: matched?.recipient?.address ?? null,
      category: verdict.category,
      status: verdict.status,
      detail,
      processedAt: now,
    };
    if (matched?.recipient) await this.#apply(matched, verdict, detail, now);
    log(
      `bounce: report ${report.id}: ${verdict.kind}` +
        (matched ? ` for ${matched.message.id} <${matched.recipient?.address ?? "?"}>` : "") +
        ` (${detail})`,
    );
    return result;
  }

  async #apply(
    matched: { message: { id: string; sender: string }; recipient: Matched["recipient"] },
    verdict: ReportVerdict,
    detail: string,
    now: number,
  ) {
    const { store, config } = this.#o;
    const recipient = matched.recipient!;
    const address = recipient.address.toLowerCase();
    const reply = verdict.entry?.diagnostic ?? verdict.status ?? verdict.kind;
    if (verdict.kind === "hard_bounce" || verdict.kind === "failed") {
      await store.markRecipientsBounced([recipient.id], {
        reply: `asynchronous bounce: ${reply}`,
        category: verdict.category ?? "other",
        at: now,
      });
      if (verdict.kind === "hard_bounce" && config.bounce.suppression_time > 0) {
        await store.addSuppressions([{
          address,
          category: verdict.category ?? "bad_mailbox",
          code: verdict.entry?.code ?? null,
          reason: reply.slice(0, 1000),
          messageId: matched.message.id,
          createdAt: now,
          expiresAt: now + config.bounce.suppression_time,
          source: "dsn",
        }]);
      }
      const base = {
        message_id: matched.message.id,
        sender: matched.message.sender,
        recipient: address,
        domain: domainOf(address),
        category: verdict.category ?? null,
      };
      emitEvent({ type: "bounced", ...base, reply: `asynchronous bounce: ${reply}` });
      if (verdict.kind === "hard_bounce" && config.bounce.suppression_time > 0) {
        emitEvent({ type: "suppression_added", ...base, reason: reply.slice(0, 1000) });
      }
    } else if (verdict.kind === "complaint") {
      await store.addSenderSuppressions([{
        senderDomain: domainOf(matched.message.sender) || "",
        address,
        category: "complaint",
        reason: detail,
        source: "complaint",
        messageId: matched.message.id,
        createdAt: now,
        expiresAt: now + config.bounce.complaint_time,
      }]);
      emitEvent({
        type: "complaint",
        message_id: matched.message.id,
        sender: matched.message.sender,
        recipient: address,
        domain: domainOf(address),
        category: "complaint",
        reason: detail,
      });
    }
  }
}
