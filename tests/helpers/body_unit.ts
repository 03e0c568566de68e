/** The one-recipient leased unit the delivery body-read tests prepare messages for. */
import type { LeasedUnit } from "../../core/contracts/mod.ts";

export const BODY_UNIT = {
  v: 1,
  unitId: "u1",
  messageId: "0123456789BCDFGH",
  domain: "x.test",
  sender: "n@shop.test",
  attempts: 0,
  createdAt: 0,
  leaseToken: "t",
  recipients: ["a@x.test"],
} as LeasedUnit;
