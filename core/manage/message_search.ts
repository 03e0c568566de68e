/**
 * The messages list as a search (issue 14: `GET /api/v1/messages?recipient=…&state=…`): the
 * queue filter of core/api/queue_ops.ts (the same fields as `/queue/units` and bulk actions),
 * answered with message summaries newest first, a keyset page on the message id. No filter: the
 * newest messages, as the list always was. A sender key searches only what it sent (its key
 * name is added to the filter, so another key's messages are never read).
 */
import { decodeCursor, pageFrom } from "../api/pagination.ts";
import type { MessageListBody } from "../api/schemas.ts";
import type { Config } from "../config/mod.ts";
import type { ViewStore } from "../store/mod.ts";
import { messageSummaryDocument } from "./api_documents.ts";
import { allow, parseFilter, READ_ROLES, storeFilter } from "./queue_search.ts";
import { type Actor, ValidationError } from "./types.ts";

/** Who may search messages: readers, and senders (their own). */
export const MESSAGE_SEARCH_ROLES = [...READ_ROLES, "sender"] as const;

/** The `before` id a list cursor holds (ValidationError naming `cursor` when it is not ours). */
function beforeOf(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const position = decodeCursor(cursor);
  if (typeof position?.before !== "string") {
    throw new ValidationError([{ path: "query.cursor", message: "Not a cursor of this list" }]);
  }
  return position.before;
}

/** One page of messages matching `input` (a filter as written), newest first. */
export async function searchMessages(
  deps: { store: Pick<ViewStore, "listMessages">; config: Pick<Config, "vmtas"> },
  actor: Actor,
  input: unknown,
  page: { cursor?: string; limit: number },
): Promise<MessageListBody> {
  allow(actor, MESSAGE_SEARCH_ROLES, "search messages");
  const filter = storeFilter(parseFilter(input), deps.config, Date.now());
  if (actor.role === "sender") {
    // A key without a name matches nothing rather than everything.
    filter.apiKey = actor.api_key_id ?? "";
  }
  const rows = await deps.store.listMessages({
    limit: page.limit + 1,
    before: beforeOf(page.cursor),
    filter,
  });
  const result = pageFrom(rows, page.limit, (last) => ({ before: last.id }));
  return { ...result, items: result.items.map(messageSummaryDocument) };
}
