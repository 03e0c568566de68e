/**
 * The management plane's object service cases (core/manage), run on SQLite by
 * tests/manage_objects_test.ts and on PostgreSQL and MariaDB by
 * tests/manage_objects.pg.mariadb_test.ts: validation names the field and changes nothing,
 * versions and conflicts, audit before/after, revert, the cluster config version.
 */
import { assert, assertEquals, assertRejects } from "./assert.ts";
import type { SqlStore } from "../../core/store/mod.ts";
import {
  type Actor,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  openManagement,
  ValidationError,
  VersionConflictError,
} from "../../core/manage/mod.ts";

const ADMIN: Actor = { name: "alice", role: "admin", channel: "api" };
const VIEWER: Actor = { name: "vic", role: "viewer", channel: "console" };

/** Case name → body, each on a fresh migrated store. */
export const MANAGE_CASES: Record<string, (store: SqlStore) => Promise<void>> = {
  "create, get, list, update, delete with versions and audit": async (store) => {
    const m = openManagement(store);
    const start = await m.configVersion();
    const created = await m.objects.vmta.create(
      { ip: "127.0.0.12", hostname: "mta12.example.test", pool: "warm" },
      ADMIN,
    );
    assertEquals(created.version, 1);
    assertEquals(created.body.weight, 1); // defaults stored
    assertEquals(created.body.enabled, true);
    assertEquals(await m.configVersion(), start + 1);
    const updated = await m.objects.vmta.update("127.0.0.12", { weight: 3 }, ADMIN, {
      partial: true,
      ifVersion: 1,
    });
    assertEquals(updated.version, 2);
    assertEquals(updated.body.pool, "warm");
    assertEquals(updated.body.weight, 3);
    const page = await m.objects.vmta.list({});
    assertEquals(page.items.map((o) => o.id), ["127.0.0.12"]);
    await m.objects.vmta.remove("127.0.0.12", ADMIN, { ifVersion: 2 });
    assertEquals(await m.objects.vmta.get("127.0.0.12"), null);
    assertEquals(await m.configVersion(), start + 3);
    // Re-created after a delete: versions continue (an old ETag never matches again).
    const again = await m.objects.vmta.create(
      { ip: "127.0.0.12", hostname: "mta12.example.test" },
      ADMIN,
    );
    assertEquals(again.version, 4);
    const audit = await m.audit.list({ kind: "vmta", object_id: "127.0.0.12" });
    assertEquals(audit.items.map((e) => e.action), ["create", "delete", "update", "create"]);
    const update = audit.items[2];
    assertEquals((update.before as { weight: number }).weight, 1);
    assertEquals((update.after as { weight: number }).weight, 3);
    assertEquals(update.actor, "alice");
    assertEquals(update.channel, "api");
    assertEquals(audit.items[1].after, null);
    assertEquals(audit.items[3].before, null);
  },

  "invalid input names the field path and changes nothing": async (store) => {
    const m = openManagement(store);
    const start = await m.configVersion();
    const bad = await assertRejects(() =>
      m.objects.vmta.create({ ip: "not-an-ip", hostname: "x.example.test", weight: -1 }, ADMIN)
    );
    assert(bad instanceof ValidationError, String(bad));
    const paths = bad.issues.map((i) => i.path).sort();
    assertEquals(paths, ["ip", "weight"]);
    const nested = await assertRejects(() =>
      m.objects.shaping_rule.create(
        { pattern: "example.com", rule: { max_connections: 0 } },
        ADMIN,
      )
    );
    assert(nested instanceof ValidationError);
    assertEquals(nested.issues[0].path, "rule.max_connections");
    const unknown = await assertRejects(() =>
      m.objects.route.create({ domain: "a.test", host: "h.test", colour: "red" }, ADMIN)
    );
    assert(unknown instanceof ValidationError);
    assert(unknown.message.includes("colour"), unknown.message);
    assertEquals(await m.configVersion(), start);
    assertEquals((await m.audit.list({})).items.length, 0);
    assertEquals((await m.objects.vmta.list({})).items.length, 0);
    // A bad update leaves the stored object as it was.
    await m.objects.route.create({ domain: "a.test", host: "h.test" }, ADMIN);
    const badUpdate = await assertRejects(() =>
      m.objects.route.update("a.test", { port: 70000 }, ADMIN, { partial: true })
    );
    assert(badUpdate instanceof ValidationError);
    assertEquals(badUpdate.issues[0].path, "port");
    const route = await m.objects.route.get("a.test");
    assertEquals(route?.version, 1);
    assertEquals(route?.body.port, 25);
    const rename = await assertRejects(() =>
      m.objects.route.update("a.test", { domain: "b.test" }, ADMIN, { partial: true })
    );
    assert(rename instanceof ValidationError);
    assertEquals(rename.issues[0].path, "domain");
  },

  "two concurrent updates of one object: one gets a version conflict": async (store) => {
    const m = openManagement(store);
    await m.objects.pool.create({ name: "bulk" }, ADMIN);
    const results = await Promise.allSettled([
      m.objects.pool.update("bulk", { description: "one" }, ADMIN, { partial: true, ifVersion: 1 }),
      m.objects.pool.update("bulk", { description: "two" }, ADMIN, { partial: true, ifVersion: 1 }),
    ]);
    const ok = results.filter((r) => r.status === "fulfilled");
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    assertEquals(ok.length, 1);
    assertEquals(failed.length, 1);
    assert(failed[0].reason instanceof VersionConflictError, String(failed[0].reason));
    assertEquals((await m.objects.pool.get("bulk"))?.version, 2);
    const stale = await assertRejects(() => m.objects.pool.remove("bulk", ADMIN, { ifVersion: 1 }));
    assert(stale instanceof VersionConflictError);
    assertEquals((stale as VersionConflictError).current, 2);
  },

  "create of a taken id, unknown ids and roles": async (store) => {
    const m = openManagement(store);
    await m.objects.listener.create({ ip: "127.0.0.1", port: 2626 }, ADMIN);
    assert(
      (await assertRejects(() =>
        m.objects.listener.create({ ip: "127.0.0.1", port: 2626 }, ADMIN)
      )) instanceof ConflictError,
    );
    assert(
      (await assertRejects(() => m.objects.listener.remove("127.0.0.1:9", ADMIN))) instanceof
        NotFoundError,
    );
    assert(
      (await assertRejects(() =>
        m.objects.listener.create({ ip: "127.0.0.1", port: 2627 }, VIEWER)
      )) instanceof ForbiddenError,
    );
    assertEquals((await m.objects.listener.list({})).items.map((l) => l.id), ["127.0.0.1:2626"]);
  },

  "revert restores the before state as a new audited change": async (store) => {
    const m = openManagement(store);
    const seen: string[] = [];
    m.onChange((c) => seen.push(`${c.action} ${c.kind} ${c.id} v${c.version}`));
    await m.objects.route.create({ domain: "example.org", host: "relay1.test" }, ADMIN);
    await m.objects.route.update("example.org", { host: "relay2.test" }, ADMIN, {
      partial: true,
    });
    const [update] = (await m.audit.list({ kind: "route", limit: 1 })).items;
    assertEquals(update.action, "update");
    const revert = await m.audit.revert(update.id, ADMIN);
    assertEquals(revert.action, "revert");
    assertEquals((revert.after as { host: string }).host, "relay1.test");
    assertEquals((await m.objects.route.get("example.org"))?.body.host, "relay1.test");
    assertEquals((await m.objects.route.get("example.org"))?.version, 3);
    // Reverting the create removes the object; reverting that delete brings it back.
    const create = (await m.audit.list({ kind: "route" })).items.find((e) =>
      e.action === "create"
    )!;
    await m.audit.revert(create.id, ADMIN);
    assertEquals(await m.objects.route.get("example.org"), null);
    const removal = (await m.audit.list({ kind: "route", limit: 1 })).items[0];
    await m.audit.revert(removal.id, ADMIN);
    assertEquals((await m.objects.route.get("example.org"))?.body.host, "relay1.test");
    assertEquals(seen, [
      "create route example.org v1",
      "update route example.org v2",
      "revert route example.org v3",
      "revert route example.org v4",
      "revert route example.org v5",
    ]);
    assert(
      (await assertRejects(() => m.audit.revert(999_999, ADMIN))) instanceof NotFoundError,
    );
  },

  "audit pages and entries of other services": async (store) => {
    const m = openManagement(store);
    for (let i = 0; i < 5; i++) {
      await m.audit.record({ name: "op", role: "operator", channel: "cli" }, {
        kind: "message",
        object_id: `m${i}`,
        action: "retry",
      });
    }
    const first = await m.audit.list({ limit: 2 });
    assertEquals(first.items.map((e) => e.object_id), ["m4", "m3"]);
    assert(first.next_cursor);
    const second = await m.audit.list({ limit: 2, cursor: first.next_cursor });
    assertEquals(second.items.map((e) => e.object_id), ["m2", "m1"]);
    assertEquals(second.items[0].config_version, 0);
    const last = await m.audit.list({ limit: 2, cursor: second.next_cursor });
    assertEquals(last.items.map((e) => e.object_id), ["m0"]);
    assertEquals(last.next_cursor, undefined);
    const notConfig = await assertRejects(() => m.audit.revert(first.items[0].id, ADMIN));
    assert(notConfig instanceof ValidationError);
  },

  "secrets are stored, never shown, kept when sent back and restored by revert": async (store) => {
    const m = openManagement(store);
    const auth = { username: "relay", password: "s3cret-pass" };
    const created = await m.objects.route.create({ domain: "a.test", host: "h.test", auth }, ADMIN);
    assertEquals(created.body.auth?.password, "********");
    // A full update with the redacted value read keeps the stored password.
    await m.objects.route.update("a.test", { ...created.body, port: 587 }, ADMIN);
    const raw = await store.configObject("route", "a.test");
    assert(raw?.body.includes("s3cret-pass"), "stored as is");
    await m.objects.route.update(
      "a.test",
      { auth: { username: "relay", password: "new" } },
      ADMIN,
      {
        partial: true,
      },
    );
    const audit = await m.audit.list({ kind: "route" });
    assert(!JSON.stringify(audit).includes("s3cret-pass"), "never in the audit as shown");
    assert(!JSON.stringify(audit).includes('"new"'), "never in the audit as shown");
    const listed = await m.objects.route.list({});
    assert(!JSON.stringify(listed).includes("new"), "never in a list");
    await m.audit.revert(audit.items[0].id, ADMIN);
    assert((await store.configObject("route", "a.test"))?.body.includes("s3cret-pass"));
  },

  "the shaping store role reads and writes shaping_rule objects": async (store) => {
    const m = openManagement(store);
    await store.putShapingRule("example.com", { max_connections: 2 }, 1000);
    const rule = await m.objects.shaping_rule.get("example.com");
    assertEquals(rule?.body.rule, { max_connections: 2 });
    await m.objects.shaping_rule.update("example.com", {
      pattern: "example.com",
      rule: { paused: true },
    }, ADMIN);
    const rows = await store.listShapingRules();
    assertEquals(rows.map((r) => [r.pattern, r.rule]), [["example.com", { paused: true }]]);
    assertEquals(await store.deleteShapingRule("example.com"), true);
    assertEquals(await store.deleteShapingRule("example.com"), false);
    assertEquals(await store.listShapingRules(), []);
    const actions = (await m.audit.list({ kind: "shaping_rule" })).items.map((e) =>
      `${e.action}/${e.channel}`
    );
    assertEquals(actions, ["delete/system", "update/api", "create/system"]);
  },
};
