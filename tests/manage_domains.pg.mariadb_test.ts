/**
 * The domain and suppression services on every database: suppression entries with scope, source and expiry
 * (per-domain matching, expired entries inert, paging), a CSV export/import round trip, a bad
 * import refused whole with its line and field named; sending domains versioned (a stale
 * version is refused), rotation retiring the old key, roles checked before anything changes.
 */
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { testDatabaseKinds } from "./helpers/databases.ts";
import { withStore } from "./helpers/store_contract.ts";
import { tempDir } from "./helpers/net.ts";
import { parseConfig } from "../core/config/mod.ts";
import { DomainService } from "../core/manage/domains.ts";
import { SuppressionService } from "../core/manage/suppressions.ts";
import { listAudit } from "../core/manage/audit.ts";
import {
  type Actor,
  ForbiddenError,
  ValidationError,
  VersionConflictError,
} from "../core/manage/types.ts";
import type { SqlStore } from "../core/store/mod.ts";

const T0 = Date.parse("2026-06-01T00:00:00Z");
const ADMIN: Actor = { name: "alice", role: "admin", channel: "api" };
const VIEWER: Actor = { name: "vera", role: "viewer", channel: "console" };

const CASES: Record<string, (store: SqlStore) => Promise<void>> = {
  async "suppressions: scope, expiry, paging, CSV round trip"(store) {
    const service = new SuppressionService({ store, now: () => T0 });
    await service.add({ address: "A@X.test", reason: "complained" }, ADMIN);
    await service.add({ address: "b@x.test", scope: "Shop.test", expires_at: T0 + 1000 }, ADMIN);
    await service.add({ address: "c@x.test", expires_at: "2026-05-01" }, ADMIN); // expired
    await service.add({ address: "d@x.test", source: "unsubscribe" }, ADMIN);
    const active = await store.suppressions(["a@x.test", "b@x.test", "c@x.test"], T0, "shop.test");
    assertEquals(active.map((s) => s.address).toSorted(), ["a@x.test", "b@x.test"]);
    // Scoped to shop.test: also mail from its subdomains, not from other domains.
    assertEquals((await store.suppressions(["b@x.test"], T0, "news.shop.test")).length, 1);
    assertEquals((await store.suppressions(["b@x.test"], T0, "other.test")).length, 0);
    assertEquals((await store.suppressions(["b@x.test"], T0 + 1000, "shop.test")).length, 0);

    const page1 = await service.list({ limit: 2 }, VIEWER);
    assertEquals(page1.items.map((i) => i.address), ["a@x.test", "b@x.test"]);
    const page2 = await service.list({ limit: 2, cursor: page1.next_cursor }, VIEWER);
    assertEquals(page2.items.map((i) => [i.address, i.source]), [["d@x.test", "unsubscribe"]]);
    assertEquals(page2.next_cursor, undefined);
    assertEquals(page1.items[0].source, "api");
    assertEquals(page1.items[0].created_by, "alice");

    const csv = await service.exportCsv(VIEWER);
    assertEquals(csv.split("\n")[0], "address,scope,source,reason,expires_at,created_at");
    for (const item of [...page1.items, ...page2.items]) {
      await service.remove(item.address, ADMIN);
    }
    assertEquals((await service.list({}, VIEWER)).items, []);
    assertEquals(await service.importCsv(csv, ADMIN), 3);
    const back = (await service.list({}, VIEWER)).items;
    assertEquals(back.map((i) => [i.address, i.scope, i.source, i.reason, i.expires_at]), [
      ["a@x.test", "", "api", "complained", null],
      ["b@x.test", "shop.test", "api", null, T0 + 1000],
      ["d@x.test", "", "unsubscribe", null, null],
    ]);
    const audit = await listAudit(store, { kind: "suppression" });
    assertEquals(audit.items.map((e) => [e.action, e.object_id, e.actor]).slice(0, 2), [
      ["import", "*", "alice"],
      ["remove", "d@x.test", "alice"],
    ]);
  },

  async "suppressions: a bad import changes nothing; roles are checked"(store) {
    const service = new SuppressionService({ store, now: () => T0 });
    const csv = "Address,Reason,Expires_At\nok@x.test,fine,\nbad-address,x,\nz@x.test,,tomorrow\n";
    const error = await assertRejects(() => service.importCsv(csv, ADMIN));
    assert(error instanceof ValidationError);
    assertEquals(error.issues.map((i) => i.path), ["line 3.address", "line 4.expires_at"]);
    assertEquals((await service.list({}, ADMIN)).items, []);
    const forbidden = await assertRejects(() => service.add({ address: "v@x.test" }, VIEWER));
    assert(forbidden instanceof ForbiddenError);
    const invalid = await assertRejects(() =>
      service.add({ address: "v@x.test", bogus: 1 }, ADMIN)
    );
    assert(invalid instanceof ValidationError);
    assertEquals((await service.list({}, ADMIN)).items, []);
  },

  async "domains: versions, rotation, stale writes refused"(store) {
    await using dir = tempDir("fastmta-domains-");
    const config = parseConfig({
      data_dir: dir.path,
      ip_addressess: [{ ip: "192.0.2.7", hostname: "vmta.test", outbound: true }],
      smtp: { hostname: "mx.fastmta.test" },
    });
    let now = T0;
    const service = new DomainService({ store, config, now: () => now });
    const created = await service.create(
      { name: "Shop.Test.", bounce_domain: "bounce.shop.test", dkim: { selector: "a" } },
      ADMIN,
    );
    assertEquals([created.id, created.version, created.body.dkim_keys.length], ["shop.test", 1, 1]);
    const dns = await service.dns("shop.test");
    assertEquals(dns.map((r) => `${r.purpose} ${r.name} ${r.purpose === "dkim" ? "" : r.value}`), [
      "dkim a._domainkey.shop.test ",
      "spf bounce.shop.test v=spf1 ip4:192.0.2.7 ~all",
      "dmarc _dmarc.shop.test v=DMARC1; p=none; rua=mailto:dmarc-reports@shop.test",
      "bounce_mx bounce.shop.test 10 mx.fastmta.test.",
    ]);
    now += 1000;
    const rotation = await service.rotate("shop.test", { algorithm: "ed25519" }, ADMIN);
    assertEquals(rotation.retired, ["a"]);
    assertEquals(rotation.selector, "s20260601");
    assertEquals(rotation.domain.version, 2);
    const keys = rotation.domain.body.dkim_keys;
    assertEquals(keys.map((k) => [k.selector, k.retired_at]), [["a", now], ["s20260601", null]]);
    const stale = await assertRejects(() =>
      service.update("shop.test", { bounce_domain: null }, ADMIN, { ifVersion: 1 })
    );
    assert(stale instanceof VersionConflictError);
    const updated = await service.update("shop.test", { bounce_domain: null }, ADMIN, {
      ifVersion: 2,
    });
    assertEquals([updated.version, updated.body.bounce_domain], [3, null]);
    const bad = await assertRejects(() => service.create({ name: "no_such" }, ADMIN));
    assert(bad instanceof ValidationError);
    assertEquals(bad.issues[0].path, "name");
    await service.remove("shop.test", ADMIN);
    assertEquals((await store.dkimKeys()).length, 0);
    assertEquals((await service.list()).items, []);
  },
};

for (const kind of testDatabaseKinds()) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test({
      name: `manage domains (${kind}): ${name}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: () => withStore(kind, fn),
    });
  }
}
