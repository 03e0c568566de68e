/**
 * The public JSON documents (core/api/schemas.ts, snake_case) made from the store's and the
 * cluster's records (camelCase TypeScript). The REST API and the CLI print the same documents, so
 * both call these; the records keep their names inside the program.
 */
import type {
  AttemptListBody,
  MessageDetailBody,
  MessageSummaryBody,
  NodeStatusBody,
} from "../api/schemas.ts";
import type { NodeStatus } from "../cluster/mod.ts";
import type { MessageDetail } from "../queue/quarantine.ts";
import type { AttemptRow, MessageSummary } from "../store/mod.ts";

/** One row of the message list. */
export function messageSummaryDocument(row: MessageSummary): MessageSummaryBody {
  const { createdAt, ...rest } = row;
  return { ...rest, created_at: createdAt };
}

/** One message with recipients, attempts and units. */
export function messageDetailDocument(detail: MessageDetail): MessageDetailBody {
  const { createdAt, apiKey, ...rest } = detail;
  return { ...rest, created_at: createdAt, api_key: apiKey };
}

/** One row of the delivery log. */
export function attemptDocument(row: AttemptRow): AttemptListBody["items"][number] {
  return {
    at: row.at,
    message_id: row.messageId,
    recipient: row.recipient,
    outcome: row.outcome,
    code: row.code,
    reply: row.reply,
    source_ip: row.sourceIp,
    mx_host: row.mxHost,
    duration_ms: row.durationMs,
  };
}

/** One node with its heartbeat details (any detail may be missing in an old node's row). */
export function nodeDocument(node: NodeStatus): NodeStatusBody {
  const d = node.details;
  const details: NodeStatusBody["details"] = {
    queue: d.queue,
    smtp: d.smtp,
    admin: d.admin,
    config_version: d.configVersion,
    objects_version: d.objectsVersion,
    listener_errors: d.listenerErrors,
    in_flight: d.inFlight,
    oldest_held_ms: d.oldestHeldMs,
    held_too_long: d.heldTooLong,
  };
  for (const key of Object.keys(details) as (keyof typeof details)[]) {
    if (details[key] === undefined) delete details[key];
  }
  return {
    id: node.id,
    name: node.name,
    hostname: node.hostname,
    pid: node.pid,
    started_at: node.startedAt,
    heartbeat_at: node.heartbeatAt,
    stopped_at: node.stoppedAt,
    live: node.live,
    details,
  };
}
