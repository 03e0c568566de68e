/**
 * The body spool's housekeeping on a serving node (core/spool/, `database.body_spool`): the
 * start-up recovery runs in openNodeStore, before any thread accepts; this service frees, every
 * few minutes, the sealed segments whose messages were all settled more than a grace ago.
 */
import { log } from "../core/log.ts";
import type { BodySpoolStore } from "../core/store/mod.ts";
import type { Service } from "./service_runner.ts";

/** How often sealed segments are checked for freeing. */
const FREE_EVERY_MS = 5 * 60_000;
/**
 * How long a segment outlives its last write and its messages' last settle: DSNs quote the
 * original after the settle, and the console shows a message's headers for a while after it.
 */
export const SPOOL_GRACE_MS = 60 * 60_000;

/** Frees settled spool segments while the node runs. */
export function spoolService(store: () => BodySpoolStore): Service {
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> = Promise.resolve();
  const sweep = async () => {
    try {
      const freed = await store().freeSpool({ now: Date.now(), graceMs: SPOOL_GRACE_MS });
      if (freed > 0) log("spool", `freed ${freed} settled segments`);
    } catch (error) {
      log("spool", `cannot free segments yet: ${(error as Error).message}`);
    }
  };
  return {
    name: "body spool",
    start() {
      timer = setInterval(() => running = sweep(), FREE_EVERY_MS);
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
