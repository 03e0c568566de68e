/** The sending domains: the domains we send for (their DKIM keys are in dkim_keys). */
import type { SqlContext } from "./_sql.ts";
import type { SendingDomainsTable } from "./tables.ts";

/** A sending domain as stored; `version` counts changes from 1. */
export interface SendingDomainRecord {
  name: string;
  bounceDomain: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

/** What the management plane takes. Writes compare versions, so a lost update cannot happen. */
export interface SendingDomainStore {
  /** Every sending domain, by name. */
  sendingDomains(): Promise<SendingDomainRecord[]>;
  sendingDomain(name: string): Promise<SendingDomainRecord | null>;
  /** Stores a new domain; false when the name is taken. */
  insertSendingDomain(record: SendingDomainRecord): Promise<boolean>;
  /** Replaces a domain if it is still at `expectedVersion`; false otherwise. */
  updateSendingDomain(record: SendingDomainRecord, expectedVersion: number): Promise<boolean>;
  /** Deletes a domain and its DKIM keys (at `expectedVersion`, when given); false if none. */
  deleteSendingDomain(name: string, expectedVersion?: number): Promise<boolean>;
}

function recordOf(row: SendingDomainsTable): SendingDomainRecord {
  return {
    name: row.name,
    bounceDomain: row.bounce_domain,
    version: Number(row.version),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    updatedBy: row.updated_by,
  };
}

function rowOf(r: SendingDomainRecord): SendingDomainsTable {
  return {
    name: r.name,
    bounce_domain: r.bounceDomain,
    version: r.version,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    updated_by: r.updatedBy,
  };
}

/** The sending domains on one database. */
export function sendingDomainRepository(ctx: SqlContext): SendingDomainStore {
  const { db } = ctx;
  return {
    sendingDomains: async () =>
      (await db.selectFrom("sending_domains").selectAll().orderBy("name").execute()).map(recordOf),
    sendingDomain: async (name) => {
      const row = await db.selectFrom("sending_domains").selectAll().where("name", "=", name)
        .executeTakeFirst();
      return row ? recordOf(row) : null;
    },
    insertSendingDomain: (record) =>
      ctx.transaction(async (trx) => {
        const taken = await trx.selectFrom("sending_domains").select("name")
          .where("name", "=", record.name).executeTakeFirst();
        if (taken) return false;
        await trx.insertInto("sending_domains").values(rowOf(record)).execute();
        return true;
      }),
    updateSendingDomain: async (record, expectedVersion) => {
      const result = await db.updateTable("sending_domains").set(rowOf(record))
        .where("name", "=", record.name).where("version", "=", expectedVersion)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    deleteSendingDomain: (name, expectedVersion) =>
      ctx.transaction(async (trx) => {
        let query = trx.deleteFrom("sending_domains").where("name", "=", name);
        if (expectedVersion !== undefined) query = query.where("version", "=", expectedVersion);
        const result = await query.executeTakeFirst();
        if (Number(result.numDeletedRows) === 0) return false;
        await trx.deleteFrom("dkim_keys").where("domain", "=", name).execute();
        return true;
      }),
  };
}
