/**
 * Live settings: the configuration keys that take effect without a restart. Every stage holds
 * one `Config` object per thread and reads these keys from it at the moment of use, so applying
 * a change is an in-place update of that object (on the main thread, then in each worker from
 * a `config` message). Other keys may be overridden too; they apply at the next start.
 */
import type { Config } from "../config/mod.ts";

/** Keys (as written in the config file) that apply while running. */
export const LIVE_SETTINGS = [
  "smtp.max_recipients",
  "intake.max_json_depth",
  "intake.max_json_keys",
  "intake.max_string_size",
  "intake.max_metadata_size",
  "intake.max_header_fields",
  "intake.max_header_line_length",
  "delivery.retry_schedule",
  "delivery.max_age",
  "delivery.max_connections_per_host",
  "delivery.max_messages_per_connection",
  "delivery.idle_timeout",
  "queue.batch_size",
  "queue.poll_interval",
  "queue.lease_time",
  "log.level",
  "bounce.domains",
  "bounce.report_retention",
  "bounce.token_max_age",
  "bounce.complaint_time",
  "bounce.verp.enabled",
  "bounce.verp.domain",
  "bounce.verp.prefix",
  "bounce.verp.sender_domains",
  "bounce.verp.pools",
  "bounce.unsubscribe.enabled",
  "bounce.unsubscribe.base_url",
  "bounce.delay_notice_after",
  "bounce.delay_notice",
] as const;

/** Whether `key` applies without a restart. */
export function isLiveSetting(key: string): boolean {
  return (LIVE_SETTINGS as readonly string[]).includes(key);
}

function getPath(object: unknown, path: string): unknown {
  let value = object;
  for (const key of path.split(".")) value = (value as Record<string, unknown>)?.[key];
  return value;
}

/**
 * The parts of the resolved config that come from configuration objects (core/manage/
 * live_view.ts merges them on the main thread): the workers copy them from each `config`
 * message and rebuild what depends on them (source selection, routes, listeners); the bounce
 * classifier reads `bounceRules` at each use.
 */
export const MANAGED_PARTS = [
  "vmtas",
  "routes",
  "delivery.pools",
  "smtp.listeners",
  "bounceRules",
  "bouncePolicies",
] as const;

/** Copies the live settings of `next` into `target` in place; returns the keys that changed. */
export function applyLiveSettings(target: Config, next: Config): string[] {
  return copyPaths(target, next, LIVE_SETTINGS);
}

/** Copies the managed parts of `next` into `target` in place; returns the parts that changed. */
export function applyManagedParts(target: Config, next: Config): string[] {
  return copyPaths(target, next, MANAGED_PARTS);
}

function copyPaths(target: Config, next: Config, paths: readonly string[]): string[] {
  const changed: string[] = [];
  for (const path of paths) {
    const keys = path.split(".");
    // A key unset in `next` (an optional key removed; JSON drops undefined on the way to the
    // workers) is unset in `target` too, as long as `next` has the section that holds it.
    const parent = keys.length > 1 ? getPath(next, keys.slice(0, -1).join(".")) : next;
    if (parent === undefined || parent === null) continue;
    const value = getPath(next, path);
    if (JSON.stringify(getPath(target, path)) === JSON.stringify(value)) continue;
    let holder = target as unknown as Record<string, unknown>;
    for (const key of keys.slice(0, -1)) holder = holder[key] as Record<string, unknown>;
    const last = keys[keys.length - 1];
    if (value === undefined) delete holder[last];
    else holder[last] = structuredClone(value);
    changed.push(path);
  }
  return changed;
}
