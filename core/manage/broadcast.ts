/**
 * Announcing a committed change: to in-process listeners at once (the embedded node's live view
 * applies it without waiting), and with a broker, as a ConfigEvent on the cluster config fanout
 * (core/cluster/config_sync.ts) so every other node re-reads. Nodes also poll the config version
 * every second (live_view.ts), so a lost event or a change made without a broker (the CLI next
 * to an embedded server) still applies within seconds.
 */
import { broadcastConfigChange } from "../cluster/config_sync.ts";
import type { Config } from "../config/mod.ts";
import { brokerSettings } from "../queue/settings.ts";
import { withTimeout } from "../timeout.ts";
import type { ObjectChange } from "./objects.ts";

/** Longest a change waits for its announcement: the version poll covers a slow broker. */
const ANNOUNCE_TIMEOUT_MS = 3_000;

/** In-process subscribers to committed changes. */
export class ChangeListeners {
  #listeners = new Set<(change: ObjectChange) => void>();

  /** Subscribes; returns the unsubscribe function. */
  add(listener: (change: ObjectChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls every listener (one that throws does not stop the others). */
  emit(change: ObjectChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch { /* a listener's own problem */ }
    }
  }
}

/** Publishes changes on the config fanout when `config` names a broker; else does nothing. */
export function brokerAnnouncer(
  config: Config,
  by: string,
): ((change: ObjectChange) => Promise<void>) | null {
  const settings = brokerSettings(config);
  if (!settings) return null;
  return (change) =>
    withTimeout(
      broadcastConfigChange(settings, {
        by,
        at: Date.now(),
        keys: [],
        kinds: [change.kind],
        version: change.config_version,
      }),
      ANNOUNCE_TIMEOUT_MS,
      `the broker did not confirm the config event within ${ANNOUNCE_TIMEOUT_MS} ms`,
    );
}

/**
 * Publishes "a pause changed" on the config fanout when `config` names a broker (every node's
 * pause gate re-reads at once; their one-second poll covers a lost event); else null.
 */
export function pauseAnnouncer(config: Config, by: string): (() => Promise<void>) | null {
  const settings = brokerSettings(config);
  if (!settings) return null;
  return () =>
    withTimeout(
      broadcastConfigChange(settings, { by, at: Date.now(), keys: [], kinds: ["pause"] }),
      ANNOUNCE_TIMEOUT_MS,
      `the broker did not confirm the pause event within ${ANNOUNCE_TIMEOUT_MS} ms`,
    );
}
