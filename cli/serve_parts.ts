/**
 * Pieces of `serve` (cli/serve.ts) that need little of its state: the admin HTTP service, the
 * seeding of the per-IP daily counters and the start of the config objects' live view.
 */
import type { Cluster } from "../core/cluster/mod.ts";
import type { Config } from "../core/config/mod.ts";
import { log } from "../core/log.ts";
import { type Management, openManagement } from "../core/manage/mod.ts";
import { type AppliedChange, LiveView } from "../core/manage/live_view.ts";
import { DomainService } from "../core/manage/domains.ts";
import { SuppressionService } from "../core/manage/suppressions.ts";
import { apiKeyService, smtpUserService } from "../core/manage/accounts.ts";
import { consoleUserObjects } from "../core/manage/console_users.ts";
import type { ObjectService } from "../core/manage/types.ts";
import { DailyCounters } from "../core/routing/sources.ts";
import { ensureSelfSigned, loadPemPair } from "../core/inbound/tls.ts";
import type { SqlStore, Store } from "../core/store/mod.ts";
import type { AdminContext } from "../routes/mod.ts";
import type { Service } from "./service_runner.ts";

/** Today's messages per source IP, from the delivery log (IP warm-up caps survive restarts). */
export async function seedDailyCounters(config: Config, store: Store): Promise<DailyCounters> {
  // Room for vmtas added while running (config objects): a counter per source IP.
  const counters = new DailyCounters(Math.max(config.vmtas.length, 1024));
  const now = Date.now();
  const startOfDay = DailyCounters.nextDay(now) - 86_400_000;
  for (const { sourceIp, count } of await store.deliveredSince(startOfDay)) {
    const index = config.vmtas.findIndex((v) => v.ip === sourceIp);
    if (index >= 0) counters.add(index, count, now);
  }
  return counters;
}

/**
 * The admin HTTP server on the context `context()` gives at start, over HTTPS with
 * `admin.tls.enabled`. The console (Hono, Preact, Twind) is loaded on its first request: a node
 * nobody browses keeps ~5 MB less heap, and start-up is shorter. Until then `/healthz`, `/readyz`
 * and `/metrics` are answered by the probe app (routes/probes.ts), so probes and scrapes do not
 * load it (~14 MB of heap).
 */
export function adminHttpService(context: () => AdminContext | Promise<AdminContext>): Service {
  let http: Deno.HttpServer | null = null;
  return {
    name: "admin HTTP server",
    start: async () => {
      const adminContext = await context();
      const { config } = adminContext;
      const tls = await adminTls(config);
      let adminFetch: Promise<Deno.ServeHandler> | null = null;
      // Probes and scrapes alone do not load the console and API (routes/probes.ts).
      let probeFetch: Deno.ServeHandler | null = null;
      let probes: typeof import("../routes/probes.ts") | null = null;
      http = Deno.serve({
        hostname: config.admin.host,
        port: config.admin.port,
        ...(tls ?? {}),
        onListen: () => {},
      }, async (request, info) => {
        if (!adminFetch) {
          probes ??= await import("../routes/probes.ts");
          if (probes.isProbe(request)) {
            probeFetch ??= probes.probeApp(adminContext).fetch;
            return await probeFetch(request, info);
          }
        }
        adminFetch ??= import("../routes/mod.ts").then(({ adminApp }) =>
          adminApp(adminContext).fetch
        );
        return await (await adminFetch)(request, info);
      });
    },
    stop: () => http?.shutdown(),
  };
}

/** The admin listener's certificate and key (made self-signed at first start), or null: HTTP. */
async function adminTls(config: Config): Promise<{ cert: string; key: string } | null> {
  const files = config.admin.tls;
  if (!files) return null;
  if (files.selfSigned) {
    await ensureSelfSigned(
      files,
      config.smtp.hostname,
      [config.admin.host],
      (line) => log("admin", line),
    );
    log(
      "admin",
      `WARNING: the console uses a self-signed certificate (${files.cert}); browsers cannot ` +
        `verify it. Set admin.tls.cert_file and admin.tls.key_file for production`,
    );
  }
  return await loadPemPair(files);
}

/** The admin listener's base URL. */
export function adminUrl(config: Config): string {
  return `${config.admin.tls ? "https" : "http"}://${config.admin.host}:${config.admin.port}/`;
}

/**
 * Opens the management plane and the config objects' live view on the cluster's live config:
 * seeds from the file, applies, and re-reads on every config event or overrides poll too.
 */
export async function startLiveView(
  store: SqlStore,
  cluster: Cluster,
  onApplied: (change: AppliedChange) => void,
): Promise<{ management: Management; live: LiveView }> {
  const { config } = cluster;
  const management = openManagement(store, { config, log: (line) => log("manage", line) });
  const live = new LiveView(store, management, {
    config,
    log: (line) => log("manage", line),
    onApplied,
  });
  cluster.configSync.onReload(() => live.reload());
  await live.start();
  return { management, live };
}

/** The domain, suppression and account services the admin API serves (core/manage). */
export function domainServices(store: Store, config: Config) {
  return {
    domains: new DomainService({ store, config }),
    suppressions: new SuppressionService({ store }),
    smtpUsers: smtpUserService(store, config) as unknown as ObjectService,
    apiKeys: apiKeyService(store) as unknown as ObjectService,
    consoleUsers: consoleUserObjects(store) as unknown as ObjectService,
  };
}
