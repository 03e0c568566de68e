/**
 * `queue`: prints recipient counts by state (or one message's status with `--message ID`), and
 * `queue release ID` / `queue cancel ID` act on a message (docs/quarantine.md).
 */
import { loadConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { cancelMessage, messageDetail, releaseMessage } from "../core/queue/quarantine.ts";

/** Prints queue counts or a message's status, or releases / cancels a message. */
export async function queue(
  configPath: string | null,
  options: { json: boolean; message?: string; positionals?: string[] },
): Promise<number> {
  const [action, id, ...extra] = options.positionals ?? [];
  if (action !== undefined && !(["release", "cancel"].includes(action) && id && !extra.length)) {
    console.error(
      `Cannot run "queue ${options.positionals!.join(" ")}": expected "release ID" or "cancel ID"`,
    );
    return 2;
  }
  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    if (action === "release") return await release(config, store, id);
    if (action === "cancel") {
      const result = await cancelMessage(store, id, console.error);
      if (!result) return notFound(id);
      console.log(JSON.stringify(result));
      return 0;
    }
    if (options.message) {
      const detail = await messageDetail(store, options.message);
      if (!detail) return notFound(options.message);
      console.log(JSON.stringify(detail, null, 2));
      return 0;
    }
    const counts = {
      ...await store.counts(Date.now()),
      quarantined_units: await store.quarantine.quarantinedCount(),
    };
    if (options.json) {
      console.log(JSON.stringify(counts));
    } else {
      for (const [state, n] of Object.entries(counts)) {
        console.log(`${state.padEnd(17)} ${String(n).padStart(10)}`);
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}

function notFound(id: string): number {
  console.error(`Message "${id}" not found`);
  return 1;
}

/** Releasing needs the queue: with RabbitMQ a fresh copy of each unit is published. */
async function release(
  config: Awaited<ReturnType<typeof loadConfig>>,
  store: Awaited<ReturnType<typeof openStore>>,
  id: string,
): Promise<number> {
  const { openQueue } = await import("../core/queue/mod.ts");
  const q = await openQueue(config, store, { role: "accept", log: console.error });
  try {
    const result = await releaseMessage(q, store, id, console.error);
    if (!result) return notFound(id);
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    await q.close();
  }
}
