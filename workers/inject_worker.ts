/**
 * Inject worker: consumes the RabbitMQ inject queue (core/inbound/inject.ts) into its own
 * acceptor on one store connection (synchronous=FULL) and its queue (accept role). Started only
 * when `rabbitmq` is configured and `rabbitmq.inject` is true.
 * Talks to: RabbitMQ, the store. Reads config: rabbitmq.*, smtp.hostname, smtp.max_*.
 */
/// <reference lib="deno.worker" />
import { startInjectConsumer } from "../core/inbound/inject.ts";
import { acceptStage } from "./_accept_stage.ts";
import { selfPort, workerIsolate } from "./_worker_entry.ts";

acceptStage(({ config }, { acceptor }, post) =>
  startInjectConsumer(config, acceptor, (line) => post({ type: "log", line }))
)(selfPort(), workerIsolate());
