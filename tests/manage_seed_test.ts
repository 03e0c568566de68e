/**
 * The file seeds a node, and stays in charge of what it seeded (core/manage/seed.ts): editing
 * the file and seeding again (a restart) creates, updates and removes the seed's objects; an
 * object an operator created or changed is left alone.
 */
import { assertEquals } from "./helpers/assert.ts";
import { withStore } from "./helpers/store_contract.ts";
import { loadConfig } from "../core/config/mod.ts";
import { type Actor, openManagement } from "../core/manage/mod.ts";
import { seedFromConfig } from "../core/manage/seed.ts";

const OPERATOR: Actor = { name: "cli:root", role: "admin", channel: "cli" };

async function configWith(file: Record<string, unknown>) {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, JSON.stringify(file));
    return await loadConfig(path, {});
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("seed: file edits apply at the next seed; operator edits win", () =>
  withStore("sqlite3", async (store) => {
    const management = openManagement(store);
    const ids = async (kind: "vmta" | "listener" | "route") =>
      (await management.service(kind)!.list({})).items.map((o) => o.id).sort();
    const first = await configWith({
      ip_addresses: [
        { ip: "127.0.0.10", hostname: "a.test" },
        { ip: "127.0.0.11", hostname: "b.test" },
      ],
      smtp: { listen: ["127.0.0.1:2601"] },
      routes: { "r.test": { host: "relay.test" } },
    });
    await seedFromConfig(management, store, first);
    assertEquals(await ids("vmta"), ["127.0.0.10", "127.0.0.11"]);
    assertEquals(await ids("listener"), ["127.0.0.1:2601"]);

    // The operator takes over 127.0.0.11 (changes it) and adds a vmta of their own.
    await management.objects.vmta.update("127.0.0.11", { weight: 5 }, OPERATOR, {
      partial: true,
    });
    await management.objects.vmta.create({ ip: "127.0.0.12", hostname: "c.test" }, OPERATOR);

    // The file changes: .10 renamed, .11 dropped, a new port, the route gone. A restart seeds.
    const second = await configWith({
      ip_addresses: [{ ip: "127.0.0.10", hostname: "a2.test" }],
      smtp: { listen: ["127.0.0.1:2602"] },
    });
    await seedFromConfig(management, store, second);
    assertEquals(await ids("vmta"), ["127.0.0.10", "127.0.0.11", "127.0.0.12"]);
    assertEquals((await management.objects.vmta.get("127.0.0.10"))!.body.hostname, "a2.test");
    assertEquals((await management.objects.vmta.get("127.0.0.11"))!.body.weight, 5);
    assertEquals(await ids("listener"), ["127.0.0.1:2602"]);
    assertEquals(await ids("route"), []);

    // Seeding the same file again writes nothing.
    const version = await management.configVersion();
    assertEquals(await seedFromConfig(management, store, second), []);
    assertEquals(await management.configVersion(), version);
  }));
