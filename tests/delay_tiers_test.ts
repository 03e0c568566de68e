/** Retry delays on RabbitMQ: which delay queue a unit is parked in, and which are declared. */
import { assert, assertEquals } from "./helpers/assert.ts";
import { delayTiers, pickTier } from "../core/queue/delay.ts";

const TIERS = [250, 1_000, 5_000, 30_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000];

Deno.test("delay tiers: retry delays up to the longest tier get a queue of their own", () => {
  assertEquals(delayTiers([250, 1_000], [1_000, 2_000, 700]), [250, 700, 1_000]);
  assertEquals(delayTiers([250, 3_600_000], [60_000, 14_400_000]), [250, 60_000, 3_600_000]);
});

Deno.test("delay tiers: a delay that is a tier is parked once, exactly", () => {
  for (const tier of TIERS) assertEquals(pickTier(TIERS, tier), tier);
});

Deno.test("delay tiers: never early, late by at most max(smallest tier, 1 %)", () => {
  for (
    const total of [100, 300, 1_300, 7_000, 61_000, 150_000, 7_200_000, 14_400_000, 86_400_000]
  ) {
    // Park repeatedly like the scheduler does, each parking coming back 3 ms late.
    let elapsed = 0;
    let parkings = 0;
    while (total - elapsed > 0) {
      elapsed += pickTier(TIERS, total - elapsed) + 3;
      parkings++;
      assert(parkings < 40, `too many parkings for ${total}`);
    }
    const late = elapsed - total;
    assert(late <= Math.max(250, total / 100) + 3 * parkings, `${total}: late by ${late}`);
  }
});
