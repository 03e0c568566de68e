/**
 * The broker settings a node works with, resolved from `config.rabbitmq`, and the error callers
 * turn into "try again later". Kept apart from broker.ts so that a node without RabbitMQ never
 * loads the AMQP client.
 *
 * Reads config: rabbitmq.*, delivery.retry_schedule.
 */
import type { Options } from "amqplib";
import type { Config } from "../config/mod.ts";
import { type BrokerNames, brokerNames } from "../contracts/mod.ts";
import { delayTiers } from "./delay.ts";

/** The broker settings a node works with, resolved from `config.rabbitmq`. */
export interface BrokerSettings {
  connect: Options.Connect;
  /** Where this connects, for logs (no password). */
  address: string;
  prefix: string;
  names: BrokerNames;
  queueType: "auto" | "quorum" | "classic";
  reconnectMaxMs: number;
}

/** Resolves the broker settings; null when no broker is configured (embedded mode). */
export function brokerSettings(config: Config): BrokerSettings | null {
  const r = config.rabbitmq;
  if (!r) return null;
  const prefix = r.exchange_name || "fastmta";
  const vhost = r.virtual_host || "/";
  const tiers = delayTiers(r.delay_tiers, config.delivery.retry_schedule);
  return {
    connect: {
      protocol: "amqp",
      hostname: r.host,
      port: r.port,
      username: r.username,
      password: r.password,
      vhost,
      heartbeat: Math.max(1, Math.round(r.heartbeat / 1000)),
    },
    address: `amqp://${r.username}@${r.host}:${r.port}/${encodeURIComponent(vhost)}`,
    prefix,
    names: brokerNames(prefix, r.priorities, tiers),
    queueType: r.queue_type,
    reconnectMaxMs: r.reconnect_max,
  };
}

/** Raised when the broker cannot take a message now; callers answer "try again later". */
export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
  constructor(detail = "not connected") {
    super(`RabbitMQ is unavailable: ${detail}`);
  }
}
