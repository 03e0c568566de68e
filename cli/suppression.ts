/**
 * `suppression`: the list of addresses that hard-bounced and are not tried again until their
 * suppression expires (`bounce.suppression_time`). `list` shows the active entries, `remove
 * ADDRESS` lets mail to an address go out again (e.g. once its mailbox exists).
 */
import { loadConfig } from "../core/config/mod.ts";
import { openStore } from "../core/store/mod.ts";
import { UsageError } from "./_usage.ts";

/** Runs `suppression <list|remove>`; returns the exit code. */
export async function suppression(
  configPath: string | null,
  args: string[],
  options: { json: boolean },
): Promise<number> {
  const [action, ...rest] = args;
  if (action === "list" ? rest.length !== 0 : action === "remove" ? rest.length !== 1 : true) {
    throw new UsageError(
      action === "list" || action === "remove"
        ? `Wrong arguments for "suppression ${action}"`
        : action
        ? `Unknown suppression action "${action}"`
        : "Missing suppression action",
    );
  }
  const config = await loadConfig(configPath);
  const store = await openStore(config, "admin");
  try {
    await store.migrate();
    if (action === "remove") {
      if (!await store.removeSuppression(rest[0])) {
        console.error(`Address "${rest[0]}" is not suppressed`);
        return 1;
      }
      console.log(`Removed "${rest[0].toLowerCase()}" from the suppression list`);
      return 0;
    }
    const entries = await store.listSuppressions(Date.now(), 10_000);
    if (options.json) {
      console.log(JSON.stringify(entries));
    } else if (entries.length === 0) {
      console.log("No suppressed addresses.");
    } else {
      for (const e of entries) {
        console.log(
          `${e.address}\t${e.category}\tuntil ${new Date(e.expiresAt).toISOString()}\t${
            e.reason ?? ""
          }`,
        );
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
