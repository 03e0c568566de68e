/**
 * The webhook service of the management plane: create, list, change and remove webhooks, read
 * their delivery status, POST log and dead letters, and replay dead letters. The REST API
 * (`/api/v1/webhooks`), the CLI (`fastmta webhook`) and the console call only this.
 *
 * Secrets: a webhook's secret keys the HMAC of every POST, so it must be recoverable (a hash
 * cannot sign); it is sealed with AES-256-GCM under the master key (`dkim.master_key_file` /
 * `FASTMTA_DKIM_MASTER_KEY`, core/dkim/keys.ts), bound to the webhook's id, and never returned
 * or logged. Every node of a cluster needs the same master key (as for DKIM keys).
 *
 * Each change is checked against the actor's role (admin), validated (ValidationError naming
 * the field; nothing changed) and emitted as an `admin_change` event.
 */
import { z } from "zod";
import type { Config } from "../config/mod.ts";
import { EVENT_TYPES } from "../contracts/events.ts";
import { MasterKey } from "../dkim/keys.ts";
import { emitEvent } from "../events/mod.ts";
import type { ConfigObjectStore, WebhookRecord, WebhookStore } from "../store/mod.ts";
import { recordAudit } from "./audit.ts";
import {
  type Actor,
  ConflictError,
  type FieldIssue,
  ForbiddenError,
  NotFoundError,
  type ObjectService,
  type Page,
  type StoredObject,
  ValidationError,
  VersionConflictError,
} from "./types.ts";

/** A webhook as every face shows it (never its secret). */
export interface WebhookBody {
  url: string;
  events: string[];
  enabled: boolean;
  status: WebhookStatusBody;
}

/** A webhook's delivery status. */
export interface WebhookStatusBody {
  /** Events waiting to be posted. */
  backlog?: number;
  delivered: number;
  dead: number;
  failures: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  last_success_at: number | null;
  last_status: number | null;
  last_error: string | null;
  /** The node posting its batches now. */
  lease_node: string | null;
}

/** One POST, as shown by `deliveries`. */
export interface WebhookDeliveryBody {
  id: number;
  at: number;
  node: string;
  events: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

/** One dead letter. */
export interface WebhookDeadLetterBody {
  id: number;
  created_at: number;
  first_event_at: number;
  events: number;
  reason: string;
  replayed_at: number | null;
  /** With `includeEvents`: the batch's events. */
  event_list?: unknown[];
}

const eventName = z.enum([...EVENT_TYPES, "*"] as [string, ...string[]], {
  error: () => `Expected one of ${[...EVENT_TYPES, "*"].map((t) => `"${t}"`).join(", ")}`,
});
const url = z.string().refine((value) => {
  try {
    const parsed = new URL(value);
    return parsed.protocol === "https:" || parsed.protocol === "http:";
  } catch {
    return false;
  }
}, { message: "Expected an http:// or https:// URL" });
const secret = z.string().min(16, "Use at least 16 characters").max(500);

/** What creating a webhook takes (documents the REST body; the service validates with it). */
export const webhookInputSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "Expected 1–64 letters, digits, '_', '.' or '-'")
    .optional(),
  url,
  events: z.array(eventName).min(1, "Name at least one event type"),
  secret,
  enabled: z.boolean().optional(),
}).strict();

const updateInput = z.object({
  url: url.optional(),
  events: z.array(eventName).min(1, "Name at least one event type").optional(),
  secret: secret.optional(),
  enabled: z.boolean().optional(),
}).strict();

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues: FieldIssue[] = result.error.issues.map((i) => ({
    path: i.path.join("."),
    message: i.message,
  }));
  throw new ValidationError(issues);
}

function requireAdmin(actor: Actor) {
  if (actor.role !== "admin") throw new ForbiddenError("Only an admin may change webhooks");
}

function requireReader(actor: Actor) {
  if (actor.role === "sender") throw new ForbiddenError("A sender key cannot read webhooks");
}

/** The binding of a sealed secret to its webhook. */
function secretAad(id: string): string {
  return `webhook:${id}`;
}

/** Opens stored webhook secrets with the master key (for the dispatcher). */
export function webhookSecretOpener(
  config: Pick<Config, "dkim">,
): (webhook: Pick<WebhookRecord, "id" | "secret">) => Promise<string> {
  let master: Promise<MasterKey | null> | null = null;
  return async (webhook) => {
    master ??= MasterKey.load(config.dkim.masterKeyFile);
    const key = await master;
    if (!key) {
      throw new Error("Cannot open the webhook secret: no master key (dkim.master_key_file)");
    }
    return key.open(webhook.secret, secretAad(webhook.id));
  };
}

/** What the audit log keeps of a webhook: never its secret. */
function publicView(w: WebhookRecord) {
  return { url: w.url, events: w.events, enabled: w.enabled };
}

function statusOf(w: WebhookRecord, backlog?: number): WebhookStatusBody {
  return {
    ...(backlog !== undefined ? { backlog } : {}),
    delivered: w.delivered,
    dead: w.dead,
    failures: w.failures,
    next_attempt_at: w.nextAttemptAt > 0 ? w.nextAttemptAt : null,
    last_attempt_at: w.lastAttemptAt,
    last_success_at: w.lastSuccessAt,
    last_status: w.lastStatus,
    last_error: w.lastError,
    lease_node: w.leaseUntil > Date.now() ? w.leaseNode : null,
  };
}

function objectOf(w: WebhookRecord, backlog?: number): StoredObject<WebhookBody> {
  return {
    kind: "webhook",
    id: w.id,
    version: w.version,
    body: { url: w.url, events: w.events, enabled: w.enabled, status: statusOf(w, backlog) },
    updated_at: w.updatedAt,
    updated_by: w.updatedBy,
  };
}

/** See the module comment. */
export class WebhookService implements ObjectService<WebhookBody> {
  readonly kind = "webhook";
  #store: WebhookStore & Pick<ConfigObjectStore, "recordAudit">;
  #config: Pick<Config, "dkim">;

  constructor(
    store: WebhookStore & Pick<ConfigObjectStore, "recordAudit">,
    config: Pick<Config, "dkim">,
  ) {
    this.#store = store;
    this.#config = config;
  }

  async list(
    options: { cursor?: string; limit?: number } = {},
  ): Promise<Page<StoredObject<WebhookBody>>> {
    const all = await this.#store.listWebhooks();
    const from = options.cursor ? all.findIndex((w) => w.id > options.cursor!) : 0;
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1_000);
    const start = from < 0 ? all.length : from;
    const items = all.slice(start, start + limit).map((w) => objectOf(w));
    const next = start + limit < all.length ? items[items.length - 1]?.id : undefined;
    return next ? { items, next_cursor: next } : { items };
  }

  /** Not role-checked (ObjectService); faces call {@link read} with the actor. */
  async get(id: string): Promise<StoredObject<WebhookBody> | null> {
    const w = await this.#store.getWebhook(id);
    return w ? objectOf(w, await this.#store.webhookBacklog(id)) : null;
  }

  /** `get` for `actor`, NotFoundError when absent. */
  async read(id: string, actor: Actor): Promise<StoredObject<WebhookBody>> {
    requireReader(actor);
    const found = await this.get(id);
    if (!found) throw new NotFoundError("webhook", id);
    return found;
  }

  async create(input: unknown, actor: Actor): Promise<StoredObject<WebhookBody>> {
    requireAdmin(actor);
    const checked = parse(webhookInputSchema, input);
    const id = checked.id ?? `wh_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    const now = Date.now();
    const sealed = await this.#seal(id, checked.secret);
    const added = await this.#store.insertWebhook({
      id,
      url: checked.url,
      events: [...new Set(checked.events)],
      secret: sealed,
      createdAt: now,
      createdBy: actor.name,
    });
    if (!added) throw new ConflictError(`webhook "${id}" exists already`);
    if (checked.enabled === false) {
      await this.#store.updateWebhook(id, { enabled: false }, { at: now, name: actor.name });
    }
    await this.#changed(actor, id, "create", 1, {
      after: { url: checked.url, events: checked.events, enabled: checked.enabled ?? true },
    });
    return (await this.get(id))!;
  }

  async update(
    id: string,
    input: unknown,
    actor: Actor,
    options: { ifVersion?: number; partial?: boolean } = {},
  ): Promise<StoredObject<WebhookBody>> {
    requireAdmin(actor);
    const checked = parse(
      options.partial === false ? webhookInputSchema.omit({ id: true }) : updateInput,
      input,
    );
    const current = await this.#store.getWebhook(id);
    if (!current) throw new NotFoundError("webhook", id);
    const change = {
      ...checked,
      ...(checked.events ? { events: [...new Set(checked.events)] } : {}),
      ...(checked.secret !== undefined ? { secret: await this.#seal(id, checked.secret) } : {}),
    };
    const version = await this.#store.updateWebhook(id, change, {
      at: Date.now(),
      name: actor.name,
      ifVersion: options.ifVersion ?? current.version,
    });
    if (version === null) {
      const now = await this.#store.getWebhook(id);
      if (!now) throw new NotFoundError("webhook", id);
      throw new VersionConflictError("webhook", id, now.version);
    }
    await this.#changed(actor, id, "update", version, {
      before: publicView(current),
      after: { ...publicView(current), ...checked, secret: undefined },
    });
    return (await this.get(id))!;
  }

  async remove(id: string, actor: Actor, options: { ifVersion?: number } = {}): Promise<void> {
    requireAdmin(actor);
    const current = await this.#store.getWebhook(id);
    if (!current) throw new NotFoundError("webhook", id);
    if (options.ifVersion !== undefined && options.ifVersion !== current.version) {
      throw new VersionConflictError("webhook", id, current.version);
    }
    await this.#store.deleteWebhook(id);
    await this.#changed(actor, id, "delete", current.version, { before: publicView(current) });
  }

  /** The webhook's status and its last `limit` POSTs, newest first. */
  async deliveries(
    id: string,
    actor: Actor,
    limit = 50,
  ): Promise<{ status: WebhookStatusBody; deliveries: WebhookDeliveryBody[] }> {
    const found = await this.read(id, actor);
    const rows = await this.#store.webhookAttempts(id, Math.min(Math.max(limit, 1), 1_000));
    return {
      status: found.body.status,
      deliveries: rows.map((r) => ({
        id: r.id,
        at: r.at,
        node: r.node,
        events: r.events,
        status: r.status,
        error: r.error,
        duration_ms: r.durationMs,
      })),
    };
  }

  /** The webhook's dead letters, newest first. */
  async deadLetters(
    id: string,
    actor: Actor,
    options: { limit?: number; includeEvents?: boolean } = {},
  ): Promise<WebhookDeadLetterBody[]> {
    await this.read(id, actor);
    const rows = await this.#store.webhookDeadLetters(
      id,
      Math.min(Math.max(options.limit ?? 50, 1), 1_000),
    );
    return rows.map((r) => ({
      id: r.id,
      created_at: r.createdAt,
      first_event_at: r.firstEventAt,
      events: r.events,
      reason: r.reason,
      replayed_at: r.replayedAt,
      ...(options.includeEvents ? { event_list: JSON.parse(r.body) } : {}),
    }));
  }

  /** Puts dead letters (all not yet replayed, or `ids`) back to be posted; returns the events. */
  async replay(id: string, actor: Actor, ids?: number[]): Promise<{ replayed_events: number }> {
    requireAdmin(actor);
    const current = await this.#store.getWebhook(id);
    if (!current) throw new NotFoundError("webhook", id);
    if (ids && ids.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new ValidationError([{ path: "ids", message: "Expected dead-letter ids (integers)" }]);
    }
    const events = await this.#store.replayWebhookDeadLetters(id, Date.now(), ids);
    await this.#changed(actor, id, "replay", current.version);
    return { replayed_events: events };
  }

  async #seal(id: string, plain: string): Promise<string> {
    const key = await MasterKey.load(this.#config.dkim.masterKeyFile, { create: true });
    return key!.seal(plain, secretAad(id));
  }

  /** Audits the change (never the secret) and emits its admin_change event. */
  async #changed(
    actor: Actor,
    id: string,
    action: string,
    version: number,
    sides: { before?: unknown; after?: unknown } = {},
  ) {
    await recordAudit(this.#store, actor, { kind: "webhook", object_id: id, action, ...sides });
    emitEvent({
      type: "admin_change",
      actor: actor.name,
      reason: `via ${actor.channel}`,
      object: { kind: "webhook", id, action, version },
    });
  }
}
