/**
 * Returning leased units of the embedded queue that were never attempted (the scheduler could
 * not hand them over, or they were left when the node stopped): each becomes due now again,
 * unleased, with the attempt its lease counted taken back. Guarded by the lease token, so a
 * unit settled or leased again meanwhile is left alone.
 */
import type { Kysely } from "kysely";
import type { Tables } from "./tables.ts";

const CHUNK = 500;

/** Returns units (by id, under their lease token); resolves with how many were returned. */
export async function returnLeases(
  db: Kysely<Tables>,
  units: { unitId: string; leaseToken: string }[],
  now: number,
): Promise<number> {
  const byToken = new Map<string, string[]>();
  for (const { unitId, leaseToken } of units) {
    let ids = byToken.get(leaseToken);
    if (!ids) byToken.set(leaseToken, ids = []);
    ids.push(unitId);
  }
  let returned = 0;
  for (const [token, ids] of byToken) {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const result = await db.updateTable("queue")
        .set((eb) => ({
          due_at: now,
          lease_owner: null,
          lease_token: null,
          attempts: eb("attempts", "-", 1),
          updated_at: now,
        }))
        .where("state", "=", "queued").where("lease_token", "=", token)
        .where("id", "in", ids.slice(i, i + CHUNK))
        .executeTakeFirst();
      returned += Number(result.numUpdatedRows);
    }
  }
  return returned;
}
