/**
 * REST API key rows on any Kysely dialect (portable queries only). SqlStore exposes these as
 * methods; they live here so the key table stays apart from the queue code.
 */
import type { Kysely } from "kysely";
import type { Tables } from "./tables.ts";
import type { ApiKeyRecord } from "./store.ts";

function toKey(row: Tables["api_keys"]): ApiKeyRecord {
  return {
    name: row.name,
    keyHash: row.key_hash,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/** Inserts a key; rejects with a clear error if the name is taken. */
export async function addApiKey(db: Kysely<Tables>, key: ApiKeyRecord): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom("api_keys").select("name")
      .where("name", "=", key.name).executeTakeFirst();
    if (existing) throw new Error(`API key "${key.name}" already exists`);
    await trx.insertInto("api_keys").values({
      name: key.name,
      key_hash: key.keyHash,
      created_at: key.createdAt,
      last_used_at: key.lastUsedAt,
    }).execute();
  });
}

/** The key with this hash, or null. */
export async function apiKeyByHash(
  db: Kysely<Tables>,
  keyHash: string,
): Promise<ApiKeyRecord | null> {
  const row = await db.selectFrom("api_keys").selectAll()
    .where("key_hash", "=", keyHash).executeTakeFirst();
  return row ? toKey(row) : null;
}

/** Sets a key's last use. */
export async function touchApiKey(db: Kysely<Tables>, name: string, at: number): Promise<void> {
  await db.updateTable("api_keys").set({ last_used_at: at }).where("name", "=", name).execute();
}

/** All keys by name. */
export async function listApiKeys(db: Kysely<Tables>): Promise<ApiKeyRecord[]> {
  const rows = await db.selectFrom("api_keys").selectAll().orderBy("name").execute();
  return rows.map(toKey);
}

/** Deletes a key; false if there was none. */
export async function removeApiKey(db: Kysely<Tables>, name: string): Promise<boolean> {
  const result = await db.deleteFrom("api_keys").where("name", "=", name).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
