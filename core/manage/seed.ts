/**
 * Seeding: the configuration file seeds a node. The file's vmtas (`ip_addresses` with
 * `outbound`, `group_id` as the pool), pools (`delivery.pools`), routes and listeners become
 * objects (channel "seed"). An object stays the file's until an operator changes it: at every
 * start the file's objects are synced (created, updated, removed) as long as their last change
 * was the seed's, so editing the file and restarting works; an object an operator created,
 * changed or deleted is the operator's from then on and the file no longer touches it
 * (docs/management.md). Shaping rules stored before 0011 were moved into objects by that
 * migration.
 *
 * Cluster-wide kinds (pools, routes) are synced by a lone node; in a cluster (RabbitMQ
 * configured) they are seeded once, by the first node that finds the kind untouched, since
 * nodes' files may differ. Node-local kinds (vmtas, listeners) are synced per node; a node that
 * is part of a cluster pins them to itself (`node`), a lone node does not.
 */
import type { Config } from "../config/mod.ts";
import type { ConfigObjectRecord, ConfigObjectStore } from "../store/mod.ts";
import { isKind, KINDS } from "./kinds.ts";
import type { Management } from "./mod.ts";
import { type Actor, ConflictError } from "./types.ts";

const SEED: Actor = { name: "seed", role: "admin", channel: "seed" };

/** What the file seeds, by kind. */
function fileObjects(config: Config, pinned: string | undefined) {
  const node = pinned ? { node: pinned } : {};
  return {
    vmta: config.vmtas.map((v) => ({
      ip: v.ip,
      hostname: v.hostname,
      pool: v.group,
      weight: v.weight ?? 1,
      ...(v.dailyCap !== undefined ? { daily_cap: v.dailyCap } : {}),
      ...node,
    })),
    pool: Object.entries(config.delivery.pools).map(([name, p]) => ({ name, ips: p.ips })),
    route: Object.entries(config.routes).map(([domain, r]) => ({ domain, ...r })),
    listener: config.smtp.listeners.map((l) => ({
      ip: l.host,
      port: l.port,
      mode: l.mode,
      ...node,
    })),
  };
}

type SeedStore = Pick<
  ConfigObjectStore,
  "configKindTouched" | "configObject" | "writeConfigObject" | "allConfigObjects"
>;

/** Seeds and syncs what this node's file holds; returns the kinds it changed. */
export async function seedFromConfig(
  management: Management,
  store: SeedStore,
  config: Config,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  const pinned = config.rabbitmq ? config.nodeId : undefined;
  const objects = fileObjects(config, pinned);
  const changed = new Set<string>();
  const report = (kind: string) => (error: unknown) => {
    if (error instanceof ConflictError) return; // another node (or an edit) was first
    // The body is not logged: a route's may hold a password.
    log(`cannot seed a ${kind} from the file: ${(error as Error).message}`);
  };
  const sync = async (kind: keyof typeof objects, inScope: (body: unknown) => boolean) => {
    if (await syncKind(management, store, kind, objects[kind], inScope, report(kind))) {
      changed.add(kind);
    }
  };
  for (const kind of ["pool", "route"] as const) {
    if (!pinned) {
      await sync(kind, () => true);
      continue;
    }
    if (objects[kind].length === 0 || await store.configKindTouched(kind)) continue;
    for (const body of objects[kind]) {
      await management.service(kind)!.create(body, SEED).catch(report(kind));
    }
    changed.add(kind);
  }
  for (const kind of ["vmta", "listener"] as const) {
    const marker = `${kind}@${config.nodeId}`;
    await sync(kind, (body) => (body as { node?: string }).node === pinned);
    if (!(await store.configObject("seed", marker))) await markSeeded(store, marker);
  }
  if (changed.size > 0) log(`config objects synced from the file: ${[...changed].join(", ")}`);
  return [...changed];
}

/**
 * Makes the seed-owned objects of `kind` (those `inScope`) equal the file's: creates what is
 * missing, updates what differs, removes what the file no longer has. Objects whose last
 * change was an operator's (tombstones included) are left alone. Returns whether it wrote.
 */
async function syncKind(
  management: Management,
  store: SeedStore,
  kind: string,
  bodies: unknown[],
  inScope: (body: unknown) => boolean,
  report: (error: unknown) => void,
): Promise<boolean> {
  if (!isKind(kind)) return false;
  const def = KINDS[kind] as {
    schema: { safeParse(v: unknown): { success: boolean; data?: unknown } };
    idOf(b: unknown): string;
  };
  const service = management.service(kind)!;
  const wanted = new Map<string, { input: unknown; parsed: string }>();
  for (const input of bodies) {
    const parsed = def.schema.safeParse(input);
    if (!parsed.success) {
      await service.create(input, SEED).catch(report); // reports the field that is wrong
      continue;
    }
    wanted.set(def.idOf(parsed.data), { input, parsed: JSON.stringify(parsed.data) });
  }
  let wrote = false;
  const seedOwned = (record: ConfigObjectRecord) => record.updatedBy === SEED.name;
  for (const record of await store.allConfigObjects()) {
    if (record.kind !== kind || record.body === null || !seedOwned(record)) continue;
    if (wanted.has(record.id) || !inScope(JSON.parse(record.body))) continue;
    await service.remove(record.id, SEED, { ifVersion: record.version }).catch(report);
    wrote = true;
  }
  for (const [id, { input, parsed }] of wanted) {
    const record = await store.configObject(kind, id);
    if (record && !seedOwned(record)) continue; // the operator's now
    if (!record || record.body === null) {
      await service.create(input, SEED).catch(report);
      wrote = true;
    } else if (normalized(def, record.body) !== parsed) {
      await service.update(id, input, SEED, { ifVersion: record.version }).catch(report);
      wrote = true;
    }
  }
  return wrote;
}

function normalized(
  def: { schema: { safeParse(v: unknown): { success: boolean; data?: unknown } } },
  body: string,
): string {
  const parsed = def.schema.safeParse(JSON.parse(body));
  return parsed.success ? JSON.stringify(parsed.data) : body;
}

/** Records that this node seeded a kind (a plain store write: "seed" is no face's kind). */
async function markSeeded(store: Pick<ConfigObjectStore, "writeConfigObject">, marker: string) {
  await store.writeConfigObject({
    kind: "seed",
    id: marker,
    expect: "absent",
    body: JSON.stringify({ seeded: marker }),
    at: Date.now(),
    by: SEED.name,
    audit: { actor: SEED.name, role: SEED.role, channel: SEED.channel, action: "create" },
  });
}
