/**
 * Events (docs/events.md): one typed, versioned event model (core/contracts/events.ts), emitted
 * by the stages through `emitEvent` into a bounded per-thread buffer and written in batches off
 * the hot path by the main thread's hub: the accounting log, the durable webhook outbox (posted
 * by the webhook dispatcher, once per cluster) and, optionally, a RabbitMQ exchange.
 */
export { emitEvent, type EventFields, type EventSink, eventsOn, setEventSink } from "./emit.ts";
export {
  emitOutcomes,
  emitPauseChange,
  emitQuarantined,
  emitReceived,
  outcomeFields,
  receivedFields,
} from "./build.ts";
export { EventBuffer, type EventBufferOptions } from "./buffer.ts";
export { AccountingLog, type AccountingOptions, rotatedFiles } from "./accounting.ts";
export { EventHub, type EventHubOptions, type EventHubStats } from "./hub.ts";
export { startWorkerEvents } from "./worker_sink.ts";
export { backoff, WebhookDispatcher, type WebhookDispatcherOptions } from "./webhook_dispatcher.ts";
export { SIGNATURE_HEADER, signatureHeader, signatureOf, verifySignature } from "./signature.ts";
export {
  EVENT_FORMAT_VERSION,
  EVENT_TYPES,
  type EventType,
  type FastmtaEvent,
  isEventType,
} from "../contracts/events.ts";
