/**
 * SMTP users, REST API keys and console users as managed objects (ObjectService): every change validated
 * (core/api/manage_schemas.ts), role-checked and audited. Secrets are hashed as before
 * (core/auth: a KDF for passwords, SHA-256 for the 256-bit keys); an API key is returned once,
 * by `create`, and never stored nor audited in clear. Entries have no version history: each is
 * at version 1 (a password change is audited, not versioned).
 *
 * Talks to: the store (smtp_users, api_keys), core/auth. Reads config: smtp.auth_key_file
 * (CRAM-MD5 secrets sealed with it, as `fastmta user` does).
 */
import {
  type ApiKeyBody,
  ApiKeyCreateSchema,
  ConsoleUserSchema,
  type SmtpUserBody,
  SmtpUserCreateSchema,
  SmtpUserUpdateSchema,
} from "../api/manage_schemas.ts";
import { addUser, changePassword, loadSecretKey } from "../auth/mod.ts";
import { addApiKey } from "../auth/api_keys.ts";
import { AdminAuth } from "../auth/admin.ts";
import type { Config } from "../config/mod.ts";
import type {
  AdminUserStore,
  ApiKeyStore,
  ConfigObjectStore,
  SmtpUser,
  SmtpUserStore,
} from "../store/mod.ts";
import { auditChange } from "./change_audit.ts";
import { READERS, requireRole } from "./roles.ts";
import {
  type Actor,
  ConflictError,
  NotFoundError,
  type ObjectService,
  type Page,
  type StoredObject,
} from "./types.ts";
import { validated } from "./validate.ts";

type Audited = Pick<ConfigObjectStore, "recordAudit">;

function page<T>(all: StoredObject<T>[], cursor?: string, limit = 100): Page<StoredObject<T>> {
  const after = all.filter((o) => cursor === undefined || o.id > cursor);
  const size = Math.min(Math.max(limit, 1), 1000);
  const items = after.slice(0, size);
  return after.length > size ? { items, next_cursor: items.at(-1)!.id } : { items };
}

function smtpUserObject(u: SmtpUser): StoredObject<SmtpUserBody> {
  return {
    kind: "smtp_user",
    id: u.username,
    version: 1,
    body: {
      username: u.username,
      created_at: u.createdAt,
      updated_at: u.updatedAt,
      max_recipients: u.maxRecipients,
      max_messages_per_minute: u.maxMessagesPerMinute,
    },
    updated_at: u.updatedAt,
    updated_by: "",
  };
}

/** SMTP AUTH users. */
export function smtpUserService(
  store: SmtpUserStore & Audited,
  config: Pick<Config, "smtp">,
): ObjectService<SmtpUserBody> {
  // CRAM-MD5 needs the password sealed with the node's key (made on first use); without
  // CRAM-MD5 among the mechanisms no secret is kept.
  const sealKey = async () =>
    config.smtp.auth.mechanisms.includes("CRAM-MD5")
      ? (await loadSecretKey(config.smtp.authKeyFile, { create: true })).key
      : null;
  const iterations = config.smtp.auth.password_iterations;
  const current = async (id: string) => {
    const user = await store.getSmtpUser(id);
    if (!user) throw new NotFoundError("smtp_user", id);
    return user;
  };
  return {
    kind: "smtp_user",
    list: async ({ cursor, limit }) =>
      page((await store.listSmtpUsers()).map(smtpUserObject), cursor, limit),
    get: async (id) => {
      const user = await store.getSmtpUser(id);
      return user ? smtpUserObject(user) : null;
    },
    async create(input, actor) {
      requireRole(actor, ["admin"], "add SMTP users");
      const request = validated(SmtpUserCreateSchema, input);
      if (await store.getSmtpUser(request.username)) {
        throw new ConflictError(`SMTP user "${request.username}" already exists`);
      }
      await addUser(store, request.username, request.password, {
        key: await sealKey(),
        iterations,
        maxRecipients: request.max_recipients,
        maxMessagesPerMinute: request.max_messages_per_minute,
      });
      const created = smtpUserObject(await current(request.username));
      await auditChange(store, {
        actor,
        action: "create",
        kind: "smtp_user",
        id: created.id,
        after: created.body,
      });
      return created;
    },
    async update(id, input, actor) {
      requireRole(actor, ["admin"], "change SMTP users");
      const change = validated(SmtpUserUpdateSchema, input);
      const before = smtpUserObject(await current(id));
      if (change.password !== undefined) {
        await changePassword(store, id, change.password, { key: await sealKey(), iterations });
      }
      const limits = {
        ...(change.max_recipients !== undefined ? { maxRecipients: change.max_recipients } : {}),
        ...(change.max_messages_per_minute !== undefined
          ? { maxMessagesPerMinute: change.max_messages_per_minute }
          : {}),
      };
      if (Object.keys(limits).length > 0) {
        await store.updateSmtpUser(id, { ...limits, updatedAt: Date.now() });
      }
      const after = smtpUserObject(await current(id));
      await auditChange(store, {
        actor,
        action: change.password !== undefined ? "update (password)" : "update",
        kind: "smtp_user",
        id,
        before: before.body,
        after: after.body,
      });
      return after;
    },
    async remove(id, actor) {
      requireRole(actor, ["admin"], "remove SMTP users");
      if (!await store.removeSmtpUser(id)) throw new NotFoundError("smtp_user", id);
      await auditChange(store, { actor, action: "delete", kind: "smtp_user", id });
    },
  };
}

/** REST API keys; `create` answers with the key itself, the only time it is shown. */
export function apiKeyService(store: ApiKeyStore & Audited): ObjectService<ApiKeyBody> {
  const object = (k: {
    name: string;
    role: string;
    createdAt: number;
    lastUsedAt: number | null;
  }, key?: string): StoredObject<ApiKeyBody> => ({
    kind: "api_key",
    id: k.name,
    version: 1,
    body: {
      name: k.name,
      role: k.role,
      created_at: k.createdAt,
      last_used_at: k.lastUsedAt,
      ...(key ? { key } : {}),
    },
    updated_at: k.createdAt,
    updated_by: "",
  });
  const all = async () => (await store.listApiKeys()).map((k) => object(k));
  return {
    kind: "api_key",
    list: async ({ cursor, limit }) => page(await all(), cursor, limit),
    get: async (id) => (await all()).find((k) => k.id === id) ?? null,
    async create(input, actor) {
      requireRole(actor, ["admin"], "make API keys");
      const request = validated(ApiKeyCreateSchema, input);
      if ((await all()).some((k) => k.id === request.name)) {
        throw new ConflictError(`API key "${request.name}" already exists`);
      }
      const now = Date.now();
      const key = await addApiKey(store, request.name, { role: request.role, now });
      await auditChange(store, {
        actor,
        action: "create",
        kind: "api_key",
        id: request.name,
        after: { name: request.name, role: request.role },
      });
      return object(
        { name: request.name, role: request.role, createdAt: now, lastUsedAt: null },
        key,
      );
    },
    update() {
      return Promise.reject(
        new ConflictError("An API key cannot be changed: remove it and make another"),
      );
    },
    async remove(id, actor) {
      requireRole(actor, ["admin"], "revoke API keys");
      if (!await store.removeApiKey(id)) throw new NotFoundError("api_key", id);
      await auditChange(store, { actor, action: "delete", kind: "api_key", id });
    },
  };
}

/** Who may read accounts (never senders). */
export const ACCOUNT_READERS = READERS;

/** Console users: name, role and a password (hashed with the KDF; never shown). */
export class ConsoleUserService {
  readonly #auth: AdminAuth;
  readonly #store: Pick<AdminUserStore, "listAdminUserRoles" | "setAdminRole"> & Audited;

  constructor(store: AdminUserStore & Audited) {
    this.#auth = new AdminAuth(store);
    this.#store = store;
  }

  list(): Promise<{ username: string; role: string }[]> {
    return this.#store.listAdminUserRoles();
  }

  async add(username: string, password: string, role: string, actor: Actor): Promise<void> {
    requireRole(actor, ["admin"], "add console users");
    const parsed = validated(ConsoleUserSchema, { username, password, role });
    if ((await this.list()).some((u) => u.username === parsed.username)) {
      throw new ConflictError(`Console user "${parsed.username}" already exists`);
    }
    await this.#auth.addUser(parsed.username, parsed.password, parsed.role);
    await auditChange(this.#store, {
      actor,
      action: "create",
      kind: "console_user",
      id: parsed.username,
      after: { username: parsed.username, role: parsed.role },
    });
  }

  /** Sets a new password (and ends the user's sessions). */
  async setPassword(username: string, password: string, actor: Actor): Promise<void> {
    requireRole(actor, ["admin"], "change console users");
    const parsed = validated(ConsoleUserSchema.pick({ password: true }), { password });
    if (!await this.#auth.setPassword(username, parsed.password)) {
      throw new NotFoundError("console_user", username);
    }
    await auditChange(this.#store, {
      actor,
      action: "update (password)",
      kind: "console_user",
      id: username,
    });
  }

  /** Sets a user's role; their open sessions have it from their next request. */
  async setRole(username: string, role: string, actor: Actor): Promise<void> {
    requireRole(actor, ["admin"], "change console users");
    const parsed = validated(ConsoleUserSchema.pick({ role: true }), { role });
    const before = (await this.list()).find((u) => u.username === username);
    if (!before) throw new NotFoundError("console_user", username);
    if (before.role === parsed.role) return;
    await this.#store.setAdminRole(username, parsed.role);
    await auditChange(this.#store, {
      actor,
      action: "update",
      kind: "console_user",
      id: username,
      before: { username, role: before.role },
      after: { username, role: parsed.role },
    });
  }

  async remove(username: string, actor: Actor): Promise<void> {
    requireRole(actor, ["admin"], "remove console users");
    if (!await this.#auth.removeUser(username)) throw new NotFoundError("console_user", username);
    await auditChange(this.#store, { actor, action: "delete", kind: "console_user", id: username });
  }
}
