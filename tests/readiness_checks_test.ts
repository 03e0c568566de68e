/**
 * `/readyz`'s checks with the node's parts faked: each part that is not ready is named (the
 * database away, the broker not connected, the SMTP workers restarting), secrets in a database
 * error are redacted, and the route answers 503 with `not_ready` or 200.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { tempDir } from "./helpers/net.ts";
import { readinessChecks, type ReadinessParts } from "../cli/readiness.ts";
import type { WorkerHandle } from "../cli/supervisor.ts";
import { parseConfig } from "../core/config/mod.ts";
import type { SqlStore } from "../core/store/mod.ts";
import { addSecret } from "../core/log.ts";
import { healthRoutes } from "../routes/health/mod.ts";

function worker(kind: string, alive: boolean): WorkerHandle {
  return { kind, index: 0, alive: () => alive, post: () => {}, stop: () => Promise.resolve() };
}

function fakeStore(ok: boolean, error: string | null = null): SqlStore {
  return {
    health: () => ({ ok, since: 0, error }),
    listMessages: () => ok ? Promise.resolve([]) : Promise.reject(new Error(error ?? "down")),
  } as unknown as SqlStore;
}

function parts(dir: string, overrides: Partial<ReadinessParts> = {}): ReadinessParts {
  const config = parseConfig({ data_dir: dir, smtp: { listen: ["127.0.0.1:2525"] } });
  return {
    config: () => config,
    store: () => fakeStore(true),
    queue: () => ({ kind: "rabbitmq", ready: true }),
    smtpWorkers: () => [worker("smtp", true)],
    otherWorkers: () => [],
    ...overrides,
  };
}

Deno.test("readiness: every part ready", async () => {
  await using dir = tempDir();
  const checks = await readinessChecks(parts(dir.path))();
  assertEquals(checks.filter((c) => !c.ok), []);
  assertEquals(checks.map((c) => c.name), [
    "database",
    "queue",
    "listener smtp 127.0.0.1:2525",
    "data_dir",
  ]);
});

Deno.test("readiness: the broker, the SMTP workers and the database are named when not ready", async () => {
  await using dir = tempDir();
  addSecret("readiness-pw-77x");
  const checks = await readinessChecks(parts(dir.path, {
    store: () => fakeStore(false, "password authentication failed: readiness-pw-77x"),
    queue: () => ({ kind: "rabbitmq", ready: false }),
    smtpWorkers: () => [worker("smtp", false)],
    otherWorkers: () => [worker("inject", false)],
  }))();
  const bad = Object.fromEntries(checks.filter((c) => !c.ok).map((c) => [c.name, c.detail]));
  assertEquals(Object.keys(bad), [
    "database",
    "queue",
    "listener smtp 127.0.0.1:2525",
    "worker inject-0",
  ]);
  assertEquals(bad.queue, "rabbitmq: broker not connected");
  assertMatch(bad.database, /\*\*\*/);
  assertEquals(bad.database.includes("readiness-pw-77x"), false);
});

Deno.test("readiness: a listener an SMTP worker could not bind is not ready", async () => {
  await using dir = tempDir();
  const checks = await readinessChecks(parts(dir.path, {
    listenerProblems: () => ["127.0.0.1:2525: address already in use"],
  }))();
  const listener = checks.find((c) => c.name === "listener smtp 127.0.0.1:2525")!;
  assertEquals(listener.ok, false);
  assertEquals(listener.detail, "127.0.0.1:2525: address already in use");
});

Deno.test("readiness: /readyz answers 503 naming what is not ready, then 200", async () => {
  await using dir = tempDir();
  let queueReady = false;
  const config = parseConfig({ data_dir: dir.path });
  const app = healthRoutes({
    store: fakeStore(true),
    config,
    readiness: readinessChecks(
      parts(dir.path, { queue: () => ({ kind: "rabbitmq", ready: queueReady }) }),
    ),
  });
  const down = await app.request("/readyz");
  assertEquals(down.status, 503);
  assertEquals((await down.json()).not_ready, ["queue"]);
  queueReady = true;
  const up = await app.request("/readyz");
  assertEquals(up.status, 200);
  assertEquals((await up.json()).status, "ready");
  assertEquals((await app.request("/healthz")).status, 200);
});
