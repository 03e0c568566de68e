/**
 * Seeding: the configuration file seeds a node; on its first start the file's vmtas
 * (`ip_addresses` with `outbound`, `group_id` as the pool), pools (`delivery.pools`), routes
 * and listeners become objects (channel "seed"), and from then on the objects are what the node
 * runs with — later edits of those file sections are ignored (docs/management.md). Shaping rules
 * stored before 0011 were moved into objects by that migration.
 *
 * Cluster-wide kinds (pools, routes) are seeded once per cluster, by the first node that finds
 * the kind untouched. Node-local kinds (vmtas, listeners) are seeded once per node; a node that
 * is part of a cluster (RabbitMQ configured) pins them to itself (`node`), a lone node does not.
 * A marker object (kind "seed", id "<kind>@<node>") records that a node seeded a kind.
 */
import type { Config } from "../config/mod.ts";
import type { ConfigObjectStore } from "../store/mod.ts";
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

/** Seeds what this node's file holds and the store does not; returns the kinds seeded. */
export async function seedFromConfig(
  management: Management,
  store: Pick<ConfigObjectStore, "configKindTouched" | "configObject" | "writeConfigObject">,
  config: Config,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  const pinned = config.rabbitmq ? config.nodeId : undefined;
  const objects = fileObjects(config, pinned);
  const seeded: string[] = [];
  const create = async (kind: keyof typeof objects, body: unknown) => {
    try {
      await management.service(kind)!.create(body, SEED);
    } catch (error) {
      if (error instanceof ConflictError) return; // another node (or an edit) was first
      // The body is not logged: a route's may hold a password.
      log(`cannot seed a ${kind} from the file: ${(error as Error).message}`);
    }
  };
  for (const kind of ["pool", "route"] as const) {
    if (objects[kind].length === 0 || await store.configKindTouched(kind)) continue;
    for (const body of objects[kind]) await create(kind, body);
    seeded.push(kind);
  }
  for (const kind of ["vmta", "listener"] as const) {
    const marker = `${kind}@${config.nodeId}`;
    if (await store.configObject("seed", marker)) continue;
    for (const body of objects[kind]) await create(kind, body);
    await markSeeded(store, marker);
    if (objects[kind].length > 0) seeded.push(kind);
  }
  if (seeded.length > 0) log(`seeded config objects from the file: ${seeded.join(", ")}`);
  return seeded;
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
