/**
 * A node's event hub, on its main thread: the sink of the main thread's own events and of the
 * batches its workers post (one message per flush, never per event). Each flush writes one
 * batch to every writer: the accounting log (JSON lines), the webhook outbox (one INSERT: per
 * webhook one row holding the JSON array of the events it wants) and, when configured, the
 * events exchange. Bounded: at `events.buffer_size` waiting events new ones are dropped and counted;
 * webhook rows the database could not take are kept (within the same bound) and written with
 * the next flush, so a short database outage loses nothing.
 *
 * Talks to: the store (webhook_outbox), the accounting file, the broker. Reads config: events.*.
 */
import type { EventType, FastmtaEvent } from "../contracts/events.ts";
import type { Config } from "../config/mod.ts";
import type { WebhookOutboxRow, WebhookRecord, WebhookStore } from "../store/mod.ts";
import { AccountingLog } from "./accounting.ts";
import { EventBuffer } from "./buffer.ts";
import type { EventSink } from "./emit.ts";

/** Options for an {@link EventHub}. */
export interface EventHubOptions {
  config: Pick<Config, "events">;
  store: Pick<WebhookStore, "enqueueWebhookEvents">;
  log: (line: string) => void;
  /** Publishes a batch to the events exchange (distributed mode), when configured. */
  publish?: (events: FastmtaEvent[]) => Promise<void>;
}

/** Counters of a hub, for the log and tests. */
export interface EventHubStats {
  taken: number;
  dropped: number;
  written: number;
  webhookRows: number;
  waiting: number;
}

/** See the module comment. */
export class EventHub implements EventSink {
  #o: EventHubOptions;
  #buffer: EventBuffer;
  #accounting: AccountingLog | null;
  /** Enabled webhooks by the event types they take. */
  #routes = new Map<string, string[]>();
  /** Webhook rows the database did not take yet. */
  #unwritten: WebhookOutboxRow[] = [];
  #written = 0;
  #webhookRows = 0;
  #webhookFailing = false;
  /** Dropped by workers (their own buffers), as they report. */
  #droppedElsewhere = 0;
  #onWanted: ((types: EventType[] | null) => void) | null = null;

  constructor(options: EventHubOptions) {
    this.#o = options;
    const { events } = options.config;
    const { accounting } = events;
    this.#accounting = accounting.path
      ? new AccountingLog({ ...accounting, path: accounting.path, log: options.log })
      : null;
    this.#buffer = new EventBuffer({
      capacity: events.buffer_size,
      flushMs: events.flush_interval,
      flush: (batch) => this.#write(batch),
      onDrop: (dropped) =>
        options.log(
          `events: buffer full (${events.buffer_size}), dropping; ${dropped} dropped so far`,
        ),
    });
  }

  /**
   * Whether a writer takes events of `type`: the accounting log and the exchange take all, a
   * webhook the types it names. This thread builds no event nobody writes (events.md).
   */
  wants(type: EventType): boolean {
    if (this.#accounting || this.#o.publish) return true;
    return this.#routes.has(type) || this.#routes.has("*");
  }

  /** Takes one event of this thread. */
  push(event: FastmtaEvent): void {
    this.#buffer.push(event);
  }

  /** Takes a batch a worker posted, and what its own buffer dropped. */
  accept(events: readonly FastmtaEvent[], dropped = 0): void {
    for (const e of events) this.#buffer.push(e);
    this.#droppedElsewhere += dropped;
  }

  /** Routes events by these webhooks from now on (the dispatcher's latest read). */
  setWebhooks(webhooks: readonly WebhookRecord[]): void {
    const routes = new Map<string, string[]>();
    for (const w of webhooks) {
      if (!w.enabled) continue;
      for (const type of w.events) {
        let ids = routes.get(type);
        if (!ids) routes.set(type, ids = []);
        ids.push(w.id);
      }
    }
    this.#routes = routes;
    // Told on every read, not only on a change: a worker restarted since learns it too.
    this.#onWanted?.(this.wantedTypes());
  }

  /** The types a writer takes now; null: all (accounting log, exchange, or a `*` webhook). */
  wantedTypes(): EventType[] | null {
    if (this.#accounting || this.#o.publish || this.#routes.has("*")) return null;
    return [...this.#routes.keys()] as EventType[];
  }

  /** `listener` gets {@link wantedTypes} after each read of the webhooks (the workers' filter). */
  onWanted(listener: ((types: EventType[] | null) => void) | null): void {
    this.#onWanted = listener;
  }

  get stats(): EventHubStats {
    return {
      taken: this.#buffer.taken,
      dropped: this.#buffer.dropped + this.#droppedElsewhere,
      written: this.#written,
      webhookRows: this.#webhookRows,
      waiting: this.#buffer.size + this.#unwritten.length,
    };
  }

  /** Writes what is waiting, then closes the accounting file. */
  async close(): Promise<void> {
    await this.#buffer.drain();
    if (this.#unwritten.length > 0) await this.#writeWebhookRows([]);
    await this.#accounting?.close();
  }

  async #write(batch: FastmtaEvent[]) {
    const all = this.#routes.get("*") ?? [];
    // Each event is serialized once, for every writer, and only when one takes JSON: with no
    // accounting log and no webhook (the default) a batch costs no stringify per event.
    const lines = this.#accounting || this.#routes.size > 0
      ? batch.map((e) => JSON.stringify(e))
      : [];
    const byWebhook = new Map<string, { lines: string[]; first: number }>();
    batch.forEach((e, i) => {
      const ids = this.#routes.get(e.type);
      if (!ids && all.length === 0) return;
      for (const webhookId of ids ? ids.concat(all) : all) {
        const group = byWebhook.get(webhookId);
        if (group) {
          group.lines.push(lines[i]);
          group.first = Math.min(group.first, e.at);
        } else byWebhook.set(webhookId, { lines: [lines[i]], first: e.at });
      }
    });
    // One outbox row per webhook and flush (a JSON array), not one per event.
    const rows: WebhookOutboxRow[] = [...byWebhook].map(([webhookId, g]) => ({
      webhookId,
      createdAt: g.first,
      events: g.lines.length,
      body: `[${g.lines.join(",")}]`,
    }));
    await Promise.all([
      this.#accounting?.writeLines(lines),
      this.#writeWebhookRows(rows),
      this.#o.publish?.(batch).catch((error) =>
        this.#o.log(`events: cannot publish ${batch.length}: ${(error as Error).message}`)
      ),
    ]);
    this.#written += batch.length;
  }

  async #writeWebhookRows(rows: WebhookOutboxRow[]) {
    const pending = this.#unwritten.length > 0 ? this.#unwritten.concat(rows) : rows;
    this.#unwritten = [];
    if (pending.length === 0) return;
    try {
      await this.#o.store.enqueueWebhookEvents(pending);
      this.#webhookRows += pending.reduce((n, r) => n + r.events, 0);
      if (this.#webhookFailing) this.#o.log(`events: webhook outbox writable again`);
      this.#webhookFailing = false;
    } catch (error) {
      const limit = this.#o.config.events.buffer_size;
      // Bounded: the newest rows within `buffer_size` events are kept, the rest counted dropped.
      const kept: WebhookOutboxRow[] = [];
      let events = 0;
      for (let i = pending.length - 1; i >= 0 && events + pending[i].events <= limit; i--) {
        kept.unshift(pending[i]);
        events += pending[i].events;
      }
      this.#droppedElsewhere += pending.slice(0, pending.length - kept.length)
        .reduce((n, r) => n + r.events, 0);
      this.#unwritten = kept;
      if (!this.#webhookFailing) {
        this.#o.log(
          `events: cannot write ${pending.length} webhook events, keeping them: ${
            (error as Error).message
          }`,
        );
      }
      this.#webhookFailing = true;
    }
  }
}
