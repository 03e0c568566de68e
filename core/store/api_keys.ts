/** REST API keys, stored as their SHA-256 (migrations/0008_api_keys.ts), portable queries only. */
import type { SqlContext } from "./_sql.ts";
import type { Tables } from "./tables.ts";

/** A REST API key as stored: its SHA-256, never the key (see migrations/0008_api_keys.ts). */
export interface ApiKeyRecord {
  name: string;
  /** SHA-256 of the key, lower-case hex. */
  keyHash: string;
  createdAt: number;
  /** When it last authenticated a request (to the minute), or null. */
  lastUsedAt: number | null;
  /** What the key may do (core/manage/types.ts `Role`); keys made before roles are admin. */
  role: string;
}

/** A key to add: without a role it is admin (as every key made before roles was). */
export type NewApiKey = Omit<ApiKeyRecord, "role"> & { role?: string };

/** What API authentication and the `apikey` command take. */
export interface ApiKeyStore {
  /** Adds an API key; rejects if the name is taken. */
  addApiKey(key: NewApiKey): Promise<void>;
  /** The key with this hash, or null. */
  apiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null>;
  /** Records that a key was used at `at`. */
  touchApiKey(name: string, at: number): Promise<void>;
  /** All API keys, by name. */
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** Removes an API key; false if there was none. */
  removeApiKey(name: string): Promise<boolean>;
}

function toKey(row: Tables["api_keys"]): ApiKeyRecord {
  return {
    name: row.name,
    keyHash: row.key_hash,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    role: row.role,
  };
}

/** Inserts a key; rejects with a clear error if the name is taken. */
async function addApiKey({ db }: SqlContext, key: NewApiKey): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("api_keys").select("name")
      .where("name", "=", key.name).executeTakeFirst();
    if (existing) throw new Error(`API key "${key.name}" already exists`);
    await trx.insertInto("api_keys").values({
      name: key.name,
      key_hash: key.keyHash,
      created_at: key.createdAt,
      last_used_at: key.lastUsedAt,
      role: key.role ?? "admin",
    }).execute();
  });
}

/** The key with this hash, or null. */
async function apiKeyByHash(
  { db }: SqlContext,
  keyHash: string,
): Promise<ApiKeyRecord | null> {
  const row = await db.selectFrom("api_keys").selectAll()
    .where("key_hash", "=", keyHash).executeTakeFirst();
  return row ? toKey(row) : null;
}

/** Sets a key's last use. */
async function touchApiKey({ db }: SqlContext, name: string, at: number): Promise<void> {
  await db.updateTable("api_keys").set({ last_used_at: at }).where("name", "=", name).execute();
}

/** All keys by name. */
async function listApiKeys({ db }: SqlContext): Promise<ApiKeyRecord[]> {
  const rows = await db.selectFrom("api_keys").selectAll().orderBy("name").execute();
  return rows.map(toKey);
}

/** Deletes a key; false if there was none. */
async function removeApiKey({ db }: SqlContext, name: string): Promise<boolean> {
  const result = await db.deleteFrom("api_keys").where("name", "=", name).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The API keys on one database. */
export function apiKeyRepository(ctx: SqlContext): ApiKeyStore {
  return {
    addApiKey: (key) => addApiKey(ctx, key),
    apiKeyByHash: (keyHash) => apiKeyByHash(ctx, keyHash),
    touchApiKey: (name, at) => touchApiKey(ctx, name, at),
    listApiKeys: () => listApiKeys(ctx),
    removeApiKey: (name) => removeApiKey(ctx, name),
  };
}
