/**
 * `serve`: the whole node, as an ordered list of services (cli/service_runner.ts): the store
 * (migrated), the cluster (node row, config overrides), the queue, the shaping rules, the
 * leases of a previous run, the delivery workers, the scheduler (it takes units only from here
 * on, once the workers can handle them), the REST API's accept path and the inbound channels
 * (SMTP workers, inject worker, outbox, admin HTTP server). SIGINT/SIGTERM (or the exit of the
 * `deno task`/npx launcher: cli/launcher_watch.ts) stops them in the reverse order: no more mail
 * taken, no more units taken (the unleased ones go back to the broker), the workers finish and
 * settle, what they left goes back to the queue. The whole stop is bounded by
 * `shutdown_timeout`: deliveries still running near its end are left to their leases (re-queued
 * at the next start) and the process exits.
 */
import { ENV_OVERRIDES, loadConfig } from "../core/config/mod.ts";
import { startHeapBudget } from "../core/heap_budget.ts";
import { configureLog, flushLog, log } from "../core/log.ts";
import { faultsBanner } from "../core/fault_points.ts";
import { buildPools } from "../core/routing/sources.ts";
import { startObservability } from "./observability.ts";
import { ServiceRunner } from "./service_runner.ts";
import { adminUrl } from "./serve_parts.ts";
import { NodeParts } from "./serve_node.ts";
import { defineCommand } from "./_command.ts";
import { stopRequested, stopWithin } from "./stop_signal.ts";

/** Runs the server until a signal stops it. */
export async function serve(configPath: string | null): Promise<void> {
  // Signals first: the SMTP port can open (and a client or test react) before start-up ends,
  // and an unhandled SIGHUP would kill the process.
  const stopSignal = stopRequested();
  let reloadRules = () => {};
  // SIGHUP: re-read the stored shaping rules now.
  Deno.addSignalListener("SIGHUP", () => reloadRules());
  startHeapBudget();
  // The server logs on stdout (JSON unless a terminal) from here on; errors before it read the
  // configuration go to stderr as text.
  configureLog({ stream: "stdout" });
  const faults = faultsBanner(); // TEST ONLY: says loudly that test faults are on
  if (faults) log("serve", faults);
  const seed = await loadConfig(configPath);
  startObservability(seed);
  buildPools(seed); // Validates pool references (ConfigError → exit code 2).
  await Deno.mkdir(seed.dataDir, { recursive: true });
  const node = new NodeParts(seed);
  const runner = new ServiceRunner((line) => log("serve", line));
  await runner.start(node.services());
  reloadRules = () => node.rules.reload();
  const { config } = node;
  log(
    "serve",
    `node ${config.nodeId} up: smtp ${
      config.smtp.listeners.map((l) => `${l.host}:${l.port} (${l.mode})`).join(", ")
    } × ${config.smtp.workers} workers, admin ${
      adminUrl(config)
    }, store ${config.database.driver}, queue ${node.queue.kind}`,
  );

  const signal = await stopSignal;
  const timeout = config.shutdownTimeout;
  log("serve", `${signal}: shutting down (within shutdown_timeout, ${timeout} ms)`);
  node.stopDeadline = Date.now() + timeout;
  await stopWithin(timeout, () => runner.stop(), () => node.scheduler?.inFlight ?? 0);
  log("serve", "stopped");
  flushLog();
  Deno.exit(0);
}

/** The `serve` command (the only one besides `migrate` that applies migrations). */
export const serveCommand = defineCommand({
  name: "serve",
  summary: "Run the server",
  description:
    `Runs the mail server: SMTP acceptance, delivery and the admin HTTP console, until SIGINT or
SIGTERM. Without --config (or FASTMTA_CONFIG) it runs on built-in defaults: SQLite under ./data,
SMTP on 127.0.0.1:2525, admin on http://127.0.0.1:8025/.`,
  options: {},
  database: "migrates",
  epilog: `Environment overrides:
${Object.entries(ENV_OVERRIDES).map(([k, v]) => `  ${k.padEnd(26)} ${v}`).join("\n")}`,
  run: async ({ configPath }) => {
    await serve(configPath);
    return 0;
  },
});
