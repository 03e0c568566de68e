/**
 * The configuration error, in a module of its own: the store and the delivery engine raise it
 * in worker threads, which should not load zod and the schemas (~5 MB of heap per isolate) just
 * for this class.
 */

/** Raised for a configuration that cannot be used; the message names the field. */
export class ConfigError extends Error {
  override name = "ConfigError";
}
