/**
 * The accept side of the RabbitMQ queue: a batch of accepted messages is committed in SQL
 * marked "not yet confirmed" (`messages.unconfirmed_since`), its units are published and
 * confirmed (one wait per batch), then the mark is cleared (one UPDATE per batch). A batch the
 * broker did not confirm is deleted from SQL again and the caller says "try again"; a node
 * that dies in between leaves marked orphans for the sweep (core/queue/rabbit_unconfirmed.ts).
 * Releasing quarantined units publishes their next copy first, then moves SQL on to it.
 */
import {
  type MessageBytes,
  type NewMessage,
  QUEUED_UNIT_VERSION,
  unitsOf,
} from "../contracts/mod.ts";
import { BrokerUnavailableError } from "./broker.ts";
import { confirmed, publishNextCopies, type RabbitContext } from "./rabbit_publisher.ts";

/** Makes a batch durable in SQL and in the broker; rejects if any of it may not be. */
export async function enqueueMessages(
  ctx: RabbitContext,
  messages: NewMessage<MessageBytes>[],
): Promise<void> {
  if (messages.length === 0) return;
  const { publisher, store } = ctx;
  const ch = publisher.channelOrThrow();
  const ids = messages.map((m) => m.id);
  await store.insertMessages(messages, { unconfirmedSince: Date.now() });
  try {
    const now = Date.now();
    const published: Promise<void>[] = [];
    for (const m of messages) {
      const priority = publisher.level(m.meta?.priority);
      for (const { unitId, domain, recipients } of unitsOf(m)) {
        published.push(publisher.publish(ch, {
          v: QUEUED_UNIT_VERSION,
          unitId,
          messageId: m.id,
          domain,
          sender: m.sender,
          recipients,
          copy: 0,
          attempts: 0,
          createdAt: m.receivedAt,
          dueAt: m.receivedAt,
          priority,
        }, now));
      }
    }
    await confirmed(published, "a batch");
  } catch (error) {
    await forget(ctx, ids);
    throw new BrokerUnavailableError((error as Error).message);
  }
  try {
    await store.confirmMessages(ids);
  } catch (error) {
    // Not marked confirmed: undone like an unconfirmed batch (or, if the database is gone
    // too, left to the sweep); the client retries.
    await forget(ctx, ids);
    throw error;
  }
}

async function forget(ctx: RabbitContext, ids: string[]) {
  await ctx.store.forgetMessages(ids).catch((e) =>
    ctx.log(`queue: cannot remove unconfirmed messages: ${(e as Error).message}`)
  );
}

/**
 * Releases a message's quarantined units: SQL moves each on to its next copy conditionally and,
 * before that commits, the copies of the units moved are published (confirmed). If the commit
 * never comes, the schedule side keeps parking that copy and the unit stays quarantined.
 * Returns how many units were released.
 */
export async function resumeUnits(ctx: RabbitContext, messageId: string): Promise<number> {
  const { publisher, store } = ctx;
  const units = await store.quarantine.quarantined(messageId);
  const now = Date.now();
  if (units.length === 0) return await store.quarantine.release(messageId, units, now);
  const ch = publisher.channelOrThrow();
  // Published inside the release's transaction, only for the units this caller's conditional
  // update released: two releases at once publish one live copy (core/store/quarantine.ts).
  return await store.quarantine.release(messageId, units, now, async (released) => {
    await publishNextCopies(
      publisher,
      ch,
      released.filter((u) => u.recipients.length > 0),
      now,
      "released units",
    );
  });
}
