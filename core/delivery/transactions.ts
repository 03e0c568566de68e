/**
 * The SMTP transactions of one attempt on one borrowed connection, and the per-recipient result
 * of each reply.
 */
import type { RecipientResult } from "../contracts/mod.ts";
import type { EffectiveRule } from "../routing/policy.ts";
import type { ConnectionPools, PooledConnection } from "./pool.ts";
import { ConnectionError, formatReply, type Reply, type TransactionResult } from "./smtp_client.ts";

function outcomeOf(code: number): "delivered" | "deferred" | "failed" {
  if (code >= 200 && code < 300) return "delivered";
  return code >= 500 ? "failed" : "deferred";
}

/** Replies of every transaction, or the connection broke (with the results so far). */
export type Transactions =
  | { kind: "ok"; results: RecipientResult[]; replies: Reply[] }
  | { kind: "broken"; results: RecipientResult[]; message: string };

/** One envelope: a sender, its recipients, the bytes they get. */
export interface Envelope {
  sender: string;
  recipients: string[];
  body: Uint8Array;
}

/**
 * Sends each envelope over one connection, at most `max_recipients_per_transaction`
 * recipients per transaction, and gives the connection back.
 */
export async function transactions(
  pools: ConnectionPools,
  pooled: PooledConnection,
  rule: EffectiveRule,
  envelopes: Envelope[],
): Promise<Transactions> {
  const results: RecipientResult[] = [];
  const replies: Reply[] = [];
  try {
    for (const { sender, recipients, body } of envelopes) {
      for (let i = 0; i < recipients.length; i += rule.maxRecipientsPerTransaction) {
        const batch = recipients.slice(i, i + rule.maxRecipientsPerTransaction);
        const result = await pooled.conn.transaction(sender, batch, body);
        results.push(...transactionResults(batch, result));
        replies.push(result.mail, ...result.rcpt);
        if (result.data) replies.push(result.data);
      }
    }
  } catch (error) {
    pools.discard(pooled);
    if (!(error instanceof ConnectionError)) throw error;
    return { kind: "broken", results, message: error.message };
  }
  pools.release(pooled, rule);
  return { kind: "ok", results, replies };
}

function transactionResults(recipients: string[], result: TransactionResult): RecipientResult[] {
  const { mail, rcpt, data } = result;
  if (mail.code !== 250) {
    const reply = `MAIL FROM: ${formatReply(mail)}`;
    return recipients.map((address) => ({
      address,
      outcome: outcomeOf(mail.code),
      code: mail.code,
      reply,
    }));
  }
  return recipients.map((address, i) => {
    const r = rcpt[i];
    if (!r || r.code < 200 || r.code >= 300) {
      const code = r?.code ?? 451;
      return { address, outcome: outcomeOf(code), code, reply: r ? formatReply(r) : "no reply" };
    }
    if (data === null) {
      return { address, outcome: "deferred", code: null, reply: "DATA not sent" };
    }
    return { address, outcome: outcomeOf(data.code), code: data.code, reply: formatReply(data) };
  });
}
