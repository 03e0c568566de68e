/**
 * Registers the secrets of the configuration with the logger, so no line ever shows them even
 * when an error message quotes them (a driver repeating its connection string, a URL).
 */
import type { Config } from "../core/config/mod.ts";
import { parseConnectionString } from "../core/connection/mod.ts";
import { addSecret } from "../core/log.ts";

/** The database password, the broker password and the admin API tokens. */
export function registerConfigSecrets(config: Config): void {
  try {
    const parsed = parseConnectionString(config.database.driver, config.database.connection);
    if ("password" in parsed) addSecret(parsed.password);
  } catch {
    // An unparsable connection string was refused at load; nothing to register.
  }
  if (config.rabbitmq && config.rabbitmq.password !== "guest") addSecret(config.rabbitmq.password);
  for (const token of config.admin.api_tokens) addSecret(token);
}
