/**
 * Events made by a CLI command (an admin change, a pause): a command is its own process, without
 * the server's hub, so it routes its events itself into the durable webhook outbox (posted by
 * the servers' dispatchers) and, in distributed mode, not to the exchange or the accounting log
 * (one writer per file: the server's). Install before the change, `close` after it.
 */
import type { Config } from "../core/config/mod.ts";
import { EventHub, setEventSink } from "../core/events/mod.ts";
import type { WebhookStore } from "../core/store/mod.ts";

/** Collects this command's events; `close` writes them. */
export async function cliEvents(
  config: Config,
  store: Pick<WebhookStore, "listWebhooks" | "enqueueWebhookEvents">,
): Promise<{ close(): Promise<void> }> {
  if (!config.events.enabled) return { close: () => Promise.resolve() };
  const events = { ...config.events, accounting: { ...config.events.accounting, path: undefined } };
  const hub = new EventHub({
    config: { events },
    store,
    log: (line) => console.error(line),
  });
  hub.setWebhooks(await store.listWebhooks());
  setEventSink(hub, `cli:${config.nodeId}`);
  return {
    close: async () => {
      setEventSink(null);
      await hub.close();
    },
  };
}
