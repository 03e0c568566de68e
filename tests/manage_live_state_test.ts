/**
 * From stored objects to a node's config (core/manage/live_state.ts, live_view.ts): node-pinned
 * objects apply only on their node, a disabled vmta keeps its place with weight 0 (it drains),
 * today's warm-up step caps an IP, and the live view changes the node's config in place and says
 * which parts and kinds changed.
 */
import { assertEquals } from "./helpers/assert.ts";
import { withStore } from "./helpers/store_contract.ts";
import { loadConfig } from "../core/config/mod.ts";
import { type Actor, openManagement } from "../core/manage/mod.ts";
import { dailyCapOf, managedParts } from "../core/manage/live_state.ts";
import { type AppliedChange, LiveView } from "../core/manage/live_view.ts";
import type { ConfigObjectRecord } from "../core/store/mod.ts";

const ADMIN: Actor = { name: "t", role: "admin", channel: "api" };

function record(kind: string, id: string, body: unknown): ConfigObjectRecord {
  return {
    kind,
    id,
    version: 1,
    body: JSON.stringify(body),
    deleted: false,
    updatedAt: 0,
    updatedBy: "t",
  };
}

Deno.test("managed parts: node pinning, disabled vmtas, pool members, routes, listeners", () => {
  const v = (ip: string, extra = {}) => ({
    ip,
    hostname: `h${ip.split(".")[3]}.test`,
    pool: "default",
    weight: 1,
    enabled: true,
    ...extra,
  });
  const parts = managedParts([
    record("vmta", "10.0.0.1", v("10.0.0.1")),
    record("vmta", "10.0.0.2", v("10.0.0.2", { enabled: false, weight: 5 })),
    record("vmta", "other/10.0.0.3", v("10.0.0.3", { node: "other" })),
    record("vmta", "me/10.0.0.4", v("10.0.0.4", { node: "me" })),
    record("pool", "bulk", { name: "bulk", ips: ["10.0.0.2", "10.0.0.3", "10.0.0.4"] }),
    record("route", "example.org", { domain: "example.org", host: "relay.test", port: 2525 }),
    record("listener", "127.0.0.1:2526", { ip: "127.0.0.1", port: 2526, enabled: true }),
    record("listener", "127.0.0.1:465", { ip: "127.0.0.1", port: 465, enabled: false }),
    record("listener", "other/127.0.0.1:25", {
      ip: "127.0.0.1",
      port: 25,
      enabled: true,
      node: "other",
    }),
  ], "me");
  assertEquals(parts.vmtas.map((x) => [x.ip, x.weight]), [
    ["10.0.0.1", 1],
    ["10.0.0.2", 0],
    ["10.0.0.4", 1],
  ]);
  assertEquals(parts.pools, { bulk: { ips: [{ ip: "10.0.0.2", weight: 0 }, { ip: "10.0.0.4" }] } });
  assertEquals(parts.routes, { "example.org": { host: "relay.test", port: 2525 } });
  assertEquals(parts.listeners, [{ host: "127.0.0.1", port: 2526, mode: "smtp" }]);
});

Deno.test("warm-up: the step of the current day caps the IP, the last one holds after", () => {
  const vmta = {
    ip: "10.0.0.1",
    hostname: "h.test",
    pool: "default",
    weight: 1,
    enabled: true,
    warmup: [{ day: 7, daily_cap: 5000 }, { day: 0, daily_cap: 500 }],
    warmup_start: "2026-12-01",
  };
  const day = (n: number) => Date.parse("2026-12-01") + n * 86_400_000 + 3_600_000;
  assertEquals(dailyCapOf(vmta, day(0)), 500);
  assertEquals(dailyCapOf(vmta, day(6)), 500);
  assertEquals(dailyCapOf(vmta, day(7)), 5000);
  assertEquals(dailyCapOf(vmta, day(70)), 5000);
  assertEquals(dailyCapOf({ ...vmta, warmup: undefined, daily_cap: 9 }, day(0)), 9);
});

Deno.test({
  name: "live view: seeds the file, then applies changes in place and names what changed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withStore("sqlite3", async (store) => {
      const path = await Deno.makeTempFile({ suffix: ".json" });
      await Deno.writeTextFile(
        path,
        JSON.stringify({
          ip_addresses: [{ ip: "127.0.0.10", hostname: "vmta1.test", group_id: 2 }],
          routes: { "a.test": { host: "relay.test" } },
        }),
      );
      try {
        const config = await loadConfig(path, {});
        const management = openManagement(store);
        const applied: AppliedChange[] = [];
        const view = new LiveView(store, management, {
          config,
          log: () => {},
          onApplied: (c) => applied.push(c),
          pollMs: 60_000,
        });
        await view.start();
        try {
          assertEquals((await management.objects.vmta.get("127.0.0.10"))?.body.pool, "2");
          assertEquals(
            (await management.audit.list({ kind: "route" })).items[0].channel,
            "seed",
          );
          const vmtas = config.vmtas;
          await management.objects.vmta.create(
            { ip: "127.0.0.12", hostname: "vmta12.test" },
            ADMIN,
          );
          await view.reload();
          assertEquals(config.vmtas.map((v) => v.ip), ["127.0.0.10", "127.0.0.12"]);
          assertEquals(vmtas !== config.vmtas, true); // replaced in place on the same config
          const last = applied.at(-1)!;
          assertEquals(last.parts, ["vmtas"]);
          assertEquals(last.kinds, ["vmta"]);
          assertEquals(view.version, await management.configVersion());
          await management.objects.shaping_rule.create(
            { pattern: "a.test", rule: { paused: true } },
            ADMIN,
          );
          await view.reload();
          assertEquals(applied.at(-1)!.parts, []);
          assertEquals(applied.at(-1)!.kinds, ["shaping_rule"]);
        } finally {
          await view.stop();
        }
      } finally {
        await Deno.remove(path);
      }
    }),
});
