/**
 * The last reply of a unit, normalized for an indexed search (issue 14: "reply: indexed, fast
 * with 1 000 000 messages"): its SMTP code (451) and enhanced status (4.7.1), kept beside the
 * reply text at settle (queue.reply_code, queue.reply_status, migration 0018). A search for
 * "451", "4.7.1" or "451 4.7.1" reads those indexes; other text is a substring scan of the
 * reply text (combine it with an indexed field on a large queue).
 */

/** Code and enhanced status of a remote reply (either may be null). */
export interface ReplyStatus {
  code: number | null;
  status: string | null;
}

const ENHANCED = /^\s*(?:[2-5]\d\d[ -])?([245]\.\d{1,3}\.\d{1,3})(?:\s|$)/;
const QUERY = /^\s*(?:([2-5]\d\d)(?:\s+([245]\.\d{1,3}\.\d{1,3}))?|([245]\.\d{1,3}\.\d{1,3}))\s*$/;

/** The code (as the attempt recorded it) and the enhanced status at the start of its text. */
export function replyStatusOf(code: number | null | undefined, reply: string | null | undefined) {
  const status = reply ? ENHANCED.exec(reply)?.[1] ?? null : null;
  const valid = typeof code === "number" && code >= 200 && code <= 599 ? code : null;
  return { code: valid, status } satisfies ReplyStatus;
}

/** A search text that names a code and/or enhanced status ("451", "4.7.1", "451 4.7.1"), or null. */
export function replyStatusQuery(text: string): ReplyStatus | null {
  const match = QUERY.exec(text);
  if (!match) return null;
  if (match[3]) return { code: null, status: match[3] };
  return { code: Number(match[1]), status: match[2] ?? null };
}
