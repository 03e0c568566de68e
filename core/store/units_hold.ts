/**
 * Settling a held outcome (the unit was not attempted, say a pause held it): the unit is due
 * again at the hold's end, with the attempt its lease counted given back. Rare, so one
 * statement per unit (units_settle.ts writes the rest of the batch). Private to core/store/.
 */
import type { Transaction } from "kysely";
import type { HeldOutcome, UnitOutcome } from "../contracts/mod.ts";
import type { Tables } from "./tables.ts";

/**
 * The unit row an outcome may settle: the one leased with its token, or (broker queue) the one
 * still at copy number `copy`, which then moves on by one.
 */
function claimUnit(trx: Transaction<Tables>, o: UnitOutcome, copy: number | undefined) {
  const update = trx.updateTable("queue").where("id", "=", o.unitId);
  if (copy === undefined) return update.where("lease_token", "=", o.leaseToken);
  return update.where("copy_seq", "=", copy).where("state", "=", "queued")
    .set({ copy_seq: copy + 1 });
}

/** Settles a held unit: due again at `until`, and the attempt it was leased with given back. */
export async function holdUnit(
  trx: Transaction<Tables>,
  o: HeldOutcome,
  copy: number | undefined,
): Promise<boolean> {
  // A held unit may still carry final results (recipients screened out before the hold, e.g.
  // suppressed): the caller records them like any other.
  const result = await claimUnit(trx, o, copy)
    .set((eb) => ({
      due_at: o.until,
      // Leasing counted an attempt in the embedded queue; the broker queue counts at settle.
      attempts: copy === undefined ? eb("attempts", "-", 1) : eb.ref("attempts"),
      lease_owner: null,
      lease_token: null,
      updated_at: o.at,
      held: o.reason,
      last_reply: o.why,
    }))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
