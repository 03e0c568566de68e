/**
 * The body spool's housekeeping on a serving node (core/spool/, `database.body_spool`): the
 * start-up recovery runs in openNodeStore, before any thread accepts; this service frees, every
 * few minutes, the sealed segments whose messages were all settled more than
 * `database.body_spool_keep` ago and have no DSN left to build (core/store/body_spool.ts).
 */
import { log } from "../core/log.ts";
import type { BodySpoolStore } from "../core/store/mod.ts";
import type { Service } from "./service_runner.ts";

/** How often sealed segments are checked for freeing, at most. */
const FREE_EVERY_MS = 5 * 60_000;

/** Frees settled spool segments while the node runs; `keepMs` is `database.body_spool_keep`. */
export function spoolService(store: () => BodySpoolStore, keepMs: () => number): Service {
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<void> = Promise.resolve();
  const sweep = async () => {
    try {
      const freed = await store().freeSpool({ now: Date.now(), graceMs: keepMs() });
      if (freed > 0) log("spool", `freed ${freed} settled segments`);
    } catch (error) {
      log("spool", `cannot free segments yet: ${(error as Error).message}`);
    }
  };
  return {
    name: "body spool",
    start() {
      timer = setInterval(() => running = sweep(), Math.min(FREE_EVERY_MS, keepMs()));
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
