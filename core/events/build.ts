/**
 * Events from what the stages already hold: a durable message (reception) and a settled
 * outcome (one event per recipient result: delivered, deferred, bounced, expired, suppressed).
 * Held outcomes were not attempted and make no event for the recipients that wait.
 */
import type { FastmtaEvent } from "../contracts/events.ts";
import {
  byteLengthOf,
  type MessageBytes,
  type NewMessage,
  type RecipientResult,
  type UnitOutcome,
} from "../contracts/mod.ts";
import { emitEvent, type EventFields, eventsOn } from "./emit.ts";

/** The event fields of a durable message. */
export function receivedFields(
  message: NewMessage<MessageBytes>,
): EventFields & { type: "received" } {
  return {
    type: "received",
    at: message.receivedAt,
    message_id: message.id,
    sender: message.sender,
    recipients: message.recipients,
    channel: message.channel,
    client_ip: message.clientIp,
    size: byteLengthOf(message.body),
    metadata: message.meta ?? null,
  };
}

/** The event type of one recipient result. */
export function resultType(r: RecipientResult): FastmtaEvent["type"] {
  if (r.outcome === "failed") return r.expired ? "expired" : "bounced";
  return r.outcome;
}

/**
 * The event fields of each recipient result of a settled outcome (of the types `wanted` takes,
 * by default all).
 */
export function outcomeFields(
  outcome: UnitOutcome,
  wanted: (type: FastmtaEvent["type"]) => boolean = () => true,
): EventFields[] {
  if (!outcome.results.some((r) => wanted(resultType(r)))) return [];
  const common: EventFields & { type: "delivered" } = {
    type: "delivered",
    at: outcome.at,
    message_id: outcome.messageId,
    unit_id: outcome.unitId,
    sender: outcome.sender,
    domain: outcome.domain,
    vmta: outcome.sourceIp,
    pool: outcome.pool ?? null,
    site: outcome.site ?? null,
    mx_host: outcome.mxHost,
    remote_ip: outcome.remoteIp,
    tls: { used: outcome.tls, version: outcome.tlsVersion ?? null, verified: outcome.tlsVerified },
    attempt: outcome.attempt,
    duration_ms: outcome.durationMs,
    queue_time_ms: outcome.queuedAt === undefined ? undefined : outcome.at - outcome.queuedAt,
    metadata: outcome.meta ?? null,
  };
  const out: EventFields[] = [];
  for (const r of outcome.results) {
    const type = resultType(r);
    if (!wanted(type)) continue;
    const fields: EventFields = {
      ...common,
      type,
      recipient: r.address,
      code: r.code,
      reply: r.reply,
      category: r.category ?? null,
    };
    if (type === "deferred" && outcome.kind === "deferred") {
      fields.retry_at = outcome.retryAt;
      fields.retry_reason = outcome.reason;
    }
    if (type === "suppressed") {
      // Not tried: no connection facts belong to it.
      delete fields.attempt;
      delete fields.duration_ms;
    }
    out.push(fields);
  }
  return out;
}

/** Emits the events of messages just made durable. */
export function emitReceived(messages: readonly NewMessage<MessageBytes>[]): void {
  if (!eventsOn("received")) return;
  for (const m of messages) emitEvent(receivedFields(m));
}

/** Emits the events of outcomes just settled (their state is durable). */
export function emitOutcomes(outcomes: readonly UnitOutcome[]): void {
  if (!eventsOn()) return;
  for (const o of outcomes) {
    // Only the types some writer takes are built (no writer: none).
    for (const f of outcomeFields(o, eventsOn)) {
      emitEvent(f as EventFields & { type: FastmtaEvent["type"] });
    }
  }
}

/** Emits the event of a unit quarantined after repeated handling failures. */
export function emitQuarantined(r: { unitId: string; messageId: string; reason: string }): void {
  emitEvent({
    type: "quarantined",
    subject: "unit",
    unit_id: r.unitId,
    message_id: r.messageId,
    reason: r.reason,
  });
}

/** Emits `paused` or `resumed` for a pause an operator added or removed (core/manage/pauses.ts). */
export function emitPauseChange(
  type: "paused" | "resumed",
  p: { id: string; description: string; reason: string | null; domain: string | null },
  actor: string,
): void {
  emitEvent({
    type,
    subject: `pause ${p.id} (${p.description})`,
    reason: p.reason ?? undefined,
    actor,
    ...(p.domain !== null ? { domain: p.domain } : {}),
  });
}
