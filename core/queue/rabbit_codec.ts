/**
 * What the RabbitMQ queue writes into the broker and reads back: a delivery unit as the
 * versioned JSON `QueuedUnit` of core/contracts/mod.ts, and the lease token that names one
 * pushed copy of it.
 */
import { QUEUED_UNIT_VERSION, type QueuedUnit } from "../contracts/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A unit as a broker message body. */
export function encodeUnit(unit: QueuedUnit): Uint8Array {
  return encoder.encode(JSON.stringify(unit));
}

/** Parses a unit from a broker message body; null if it is not one we can read. */
export function decodeUnit(content: Uint8Array): QueuedUnit | null {
  try {
    const unit = JSON.parse(decoder.decode(content));
    if (
      unit?.v !== QUEUED_UNIT_VERSION || typeof unit.unitId !== "string" ||
      typeof unit.messageId !== "string" || !Array.isArray(unit.recipients) ||
      typeof unit.copy !== "number" || typeof unit.attempts !== "number" ||
      typeof unit.dueAt !== "number" ||
      // Every field that travels on to a delivery worker (structured clone recurses) is flat.
      typeof unit.domain !== "string" || typeof unit.sender !== "string" ||
      !unit.recipients.every((r: unknown) => typeof r === "string") ||
      (unit.priority !== undefined && typeof unit.priority !== "number")
    ) return null;
    return unit as QueuedUnit;
  } catch {
    return null;
  }
}

/** What a lease token is made of: the pushed copy's connection generation and delivery tag. */
export interface PushedCopy {
  generation: number;
  msg: { fields: { deliveryTag: number } };
}

/**
 * Lease tokens say which connection generation and delivery tag to ack, and what the settle
 * side needs of the copy: `<generation>.<delivery tag>.<copy>.<settled attempts>.<priority>`.
 */
export function leaseToken(delivery: PushedCopy, unit: QueuedUnit): string {
  const { generation, msg } = delivery;
  return `${generation}.${msg.fields.deliveryTag}.${unit.copy}.${unit.attempts}.${unit.priority}`;
}

/** The copy, settled attempts and priority a lease token carries. */
export function parseToken(token: string): { copy: number; attempts: number; priority: number } {
  const [, , copy, attempts, priority] = token.split(".").map(Number);
  return { copy, attempts, priority };
}
