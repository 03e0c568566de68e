/**
 * Posts each webhook's waiting events (core/store/webhooks.ts) as signed JSON batches. Every
 * node runs one; a node posts a webhook's batches only while it holds that webhook's lease (a
 * conditional UPDATE on its row, renewed before each batch), so in a cluster each batch is
 * posted by one node — once, or again only when the node died between the receiver's 2xx and
 * the commit of the result (at-least-once; each event has an `id` to drop such a duplicate).
 *
 * A failed POST (no 2xx, a network error, a timeout) is retried after a backoff that doubles
 * from `retry_min` up to `retry_max`; when the oldest event of a failing batch is older than
 * `max_age`, the batch goes to the webhook's dead letters (replayable) and the next one is
 * tried. One webhook's trouble never holds up another's (each is served on its own).
 *
 * Talks to: the store (webhook tables), the webhook URLs. Reads config: events.webhooks.*.
 */
import type { Config } from "../config/mod.ts";
import type { WebhookRecord, WebhookStore } from "../store/mod.ts";
import { SIGNATURE_HEADER, signatureHeader } from "./signature.ts";

/** Options for a {@link WebhookDispatcher}. */
export interface WebhookDispatcherOptions {
  store: WebhookStore;
  /** This node (lease holder name, POST log). */
  node: string;
  settings: Config["events"]["webhooks"];
  /** The webhook's secret in clear (it is stored sealed). */
  openSecret(webhook: WebhookRecord): Promise<string>;
  log: (line: string) => void;
  /** Told the webhooks each time they are read (the hub routes events by them). */
  onList?(webhooks: WebhookRecord[]): void;
}

/** See the module comment. */
export class WebhookDispatcher {
  #o: WebhookDispatcherOptions;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #serving = new Map<string, Promise<void>>();
  #stopped = false;
  #listFailing = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#o = options;
  }

  /** Starts polling (the first pass runs now). */
  start(): Promise<void> {
    return this.#tick();
  }

  /** Stops polling and waits for the POSTs in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await Promise.all(this.#serving.values());
  }

  async #tick() {
    this.#timer = null;
    if (this.#stopped) return;
    try {
      const webhooks = await this.#o.store.listWebhooks();
      if (this.#listFailing) this.#o.log("webhooks: the database answers again");
      this.#listFailing = false;
      this.#o.onList?.(webhooks);
      const now = Date.now();
      for (const w of webhooks) {
        if (!w.enabled || w.nextAttemptAt > now || this.#serving.has(w.id)) continue;
        if (w.leaseNode !== null && w.leaseNode !== this.#o.node && w.leaseUntil >= now) continue;
        const job = this.#serve(w).catch((error) =>
          this.#o.log(`webhook ${w.id}: ${(error as Error).message}`)
        ).finally(() => this.#serving.delete(w.id));
        this.#serving.set(w.id, job);
      }
    } catch (error) {
      if (!this.#listFailing) this.#o.log(`webhooks: cannot list: ${(error as Error).message}`);
      this.#listFailing = true;
    }
    if (!this.#stopped) {
      this.#timer = setTimeout(() => this.#tick(), this.#o.settings.poll_interval);
    }
  }

  /** Posts the webhook's batches while it holds the lease and they succeed. */
  async #serve(webhook: WebhookRecord) {
    const { store, node, settings } = this.#o;
    let secret: string | null = null;
    let failures = webhook.failures;
    while (!this.#stopped) {
      const now = Date.now();
      if (!(await store.claimWebhook(webhook.id, node, now, now + settings.lease_time))) return;
      const batch = await store.webhookBatch(webhook.id, settings.batch_size);
      if (batch.length === 0) return;
      secret ??= await this.#o.openSecret(webhook);
      // Each row is a JSON array: their insides, joined, are the batch's events.
      const inner = batch.map((r) => r.body.slice(1, -1)).filter((t) => t !== "").join(",");
      const events = batch.reduce((n, r) => n + r.events, 0);
      const body = `{"webhook_id":${JSON.stringify(webhook.id)},"events":[${inner}]}`;
      const started = performance.now();
      const { status, error } = await post(webhook.url, secret, body, settings.timeout);
      const at = Date.now();
      const durationMs = performance.now() - started;
      const seqs = batch.map((r) => r.seq);
      const common = { webhookId: webhook.id, seqs, events, at, node, status, error, durationMs };
      if (error === null) {
        failures = 0;
        await store.recordWebhookPost({
          ...common,
          outcome: "delivered",
          nextAttemptAt: 0,
          failures,
        });
        if (events < settings.batch_size) return;
        continue;
      }
      failures++;
      const nextAttemptAt = at + backoff(failures, settings.retry_min, settings.retry_max);
      const firstEventAt = Math.min(...batch.map((r) => r.createdAt));
      if (at - firstEventAt >= settings.max_age) {
        this.#o.log(
          `webhook ${webhook.id}: ${events} events dead-lettered after ${failures} ` +
            `failures: ${error}`,
        );
        await store.recordWebhookPost({
          ...common,
          outcome: "dead",
          nextAttemptAt,
          failures,
          dead: { body: `[${inner}]`, firstEventAt, reason: error },
        });
      } else {
        if (failures === 1) this.#o.log(`webhook ${webhook.id}: POST failed, retrying: ${error}`);
        await store.recordWebhookPost({ ...common, outcome: "retry", nextAttemptAt, failures });
      }
      return;
    }
  }
}

/** Wait after `failures` failed POSTs in a row: doubling from `min`, at most `max`. */
export function backoff(failures: number, min: number, max: number): number {
  return Math.min(min * 2 ** Math.min(failures - 1, 30), max);
}

/** POSTs one signed batch; `error` is null on a 2xx. */
async function post(
  url: string,
  secret: string,
  body: string,
  timeoutMs: number,
): Promise<{ status: number | null; error: string | null }> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "fastmta-webhooks/1",
        [SIGNATURE_HEADER]: signatureHeader(secret, Math.floor(Date.now() / 1000), body),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) {
      return { status: response.status, error: null };
    }
    return { status: response.status, error: `HTTP ${response.status}` };
  } catch (error) {
    return { status: null, error: (error as Error).message || String(error) };
  }
}
