/** DKIM signing keys per domain and selector; the private key is stored sealed. */
import type { SqlContext } from "./_sql.ts";

/** A DKIM signing key as stored; `privateKey` is sealed (core/dkim/keys.ts). */
export interface DkimKeyRecord {
  domain: string;
  selector: string;
  algorithm: string;
  privateKey: string;
  publicKey: string;
  createdAt: number;
  /** When it was rotated out: it no longer signs, its DNS record stays until it is removed. */
  retiredAt?: number | null;
}

/** What the signer and the `dkim` command take. */
export interface DkimKeyStore {
  /** Every DKIM key. */
  dkimKeys(): Promise<DkimKeyRecord[]>;
  /** Stores a new DKIM key; fails if (domain, selector) exists. */
  addDkimKey(key: DkimKeyRecord): Promise<void>;
  /** Removes a DKIM key; false when there was none. */
  removeDkimKey(domain: string, selector: string): Promise<boolean>;
  /** Marks the domain's signing keys other than `keep` retired at `at`; returns their selectors. */
  retireDkimKeys(domain: string, keep: string, at: number): Promise<string[]>;
}

async function dkimKeys({ db }: SqlContext): Promise<DkimKeyRecord[]> {
  const rows = await db.selectFrom("dkim_keys").selectAll()
    .orderBy("domain").orderBy("selector").execute();
  return rows.map((r) => ({
    domain: r.domain,
    selector: r.selector,
    algorithm: r.algorithm,
    privateKey: r.private_key,
    publicKey: r.public_key,
    createdAt: Number(r.created_at),
    retiredAt: r.retired_at === null ? null : Number(r.retired_at),
  }));
}

async function addDkimKey({ db }: SqlContext, key: DkimKeyRecord): Promise<void> {
  await db.insertInto("dkim_keys").values({
    domain: key.domain,
    selector: key.selector,
    algorithm: key.algorithm,
    private_key: key.privateKey,
    public_key: key.publicKey,
    created_at: key.createdAt,
    retired_at: key.retiredAt ?? null,
  }).execute();
}

async function removeDkimKey(
  { db }: SqlContext,
  domain: string,
  selector: string,
): Promise<boolean> {
  const result = await db.deleteFrom("dkim_keys")
    .where("domain", "=", domain).where("selector", "=", selector).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

async function retireDkimKeys(
  ctx: SqlContext,
  domain: string,
  keep: string,
  at: number,
): Promise<string[]> {
  return await ctx.transaction(async (trx) => {
    const rows = await trx.selectFrom("dkim_keys").select("selector")
      .where("domain", "=", domain).where("selector", "!=", keep).where("retired_at", "is", null)
      .execute();
    if (rows.length === 0) return [];
    await trx.updateTable("dkim_keys").set({ retired_at: at })
      .where("domain", "=", domain).where("selector", "in", rows.map((r) => r.selector))
      .execute();
    return rows.map((r) => r.selector);
  });
}

/** The DKIM keys on one database. */
export function dkimKeyRepository(ctx: SqlContext): DkimKeyStore {
  return {
    dkimKeys: () => dkimKeys(ctx),
    addDkimKey: (key) => addDkimKey(ctx, key),
    removeDkimKey: (domain, selector) => removeDkimKey(ctx, domain, selector),
    retireDkimKeys: (domain, keep, at) => retireDkimKeys(ctx, domain, keep, at),
  };
}
