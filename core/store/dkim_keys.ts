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
}

/** What the signer and the `dkim` command take. */
export interface DkimKeyStore {
  /** Every DKIM key. */
  dkimKeys(): Promise<DkimKeyRecord[]>;
  /** Stores a new DKIM key; fails if (domain, selector) exists. */
  addDkimKey(key: DkimKeyRecord): Promise<void>;
  /** Removes a DKIM key; false when there was none. */
  removeDkimKey(domain: string, selector: string): Promise<boolean>;
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

/** The DKIM keys on one database. */
export function dkimKeyRepository(ctx: SqlContext): DkimKeyStore {
  return {
    dkimKeys: () => dkimKeys(ctx),
    addDkimKey: (key) => addDkimKey(ctx, key),
    removeDkimKey: (domain, selector) => removeDkimKey(ctx, domain, selector),
  };
}
