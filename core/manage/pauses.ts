/**
 * Pauses, the operator's side (issue 14): add (validated: at least one of source, domain and
 * tag; a source names its kind), list and remove, each audited and emitted as a `paused` or
 * `resumed` event. They are rows in the shared database; after a change a config event on the
 * broker's fanout (when there is one) makes every node's scheduler re-read them at once (they
 * also re-read every second), hold matching units before any lookup or connection, and release
 * them when the pause is removed or ends (core/schedule/pauses.ts). A pause that ends by its
 * `until` emits no `resumed` (no operator did it; each node releases its own holds).
 */
import { type PauseBody, PauseInputSchema } from "../api/queue_ops.ts";
import { emitPauseChange } from "../events/mod.ts";
import { describePause } from "../schedule/pauses.ts";
import type { ConfigObjectStore, PauseRecord, PauseStore } from "../store/mod.ts";
import { recordAudit } from "./audit.ts";
import { fieldIssues } from "./objects.ts";
import { ACT_ROLES, allow, READ_ROLES } from "./queue_search.ts";
import { type Actor, NotFoundError, ValidationError } from "./types.ts";

/** The store roles pauses take. */
export type PauseDeps = {
  store: PauseStore & Pick<ConfigObjectStore, "recordAudit">;
  /** Tells the other nodes a pause changed (the config fanout), when there is a broker. */
  announce?: (() => Promise<void>) | null;
  log?: (line: string) => void;
};

/** Announces a change; a broker that does not answer leaves it to the nodes' poll. */
async function announce(deps: PauseDeps) {
  await deps.announce?.().catch((error) =>
    deps.log?.(`pauses: config event not sent (nodes poll): ${(error as Error).message}`)
  );
}

/** A stored pause as the API answers it. */
export function pauseBody(p: PauseRecord, now = Date.now()): PauseBody {
  return {
    id: p.id,
    source_kind: p.sourceKind,
    source: p.source,
    domain: p.domain,
    tag: p.tag,
    site: p.site ?? null,
    until: p.endsAt,
    reason: p.reason,
    description: describePause(p),
    in_force: p.endsAt === null || p.endsAt > now,
    created_by: p.createdBy,
    created_at: p.createdAt,
  };
}

/** Checks a new pause; ValidationError naming the field. */
export function parsePause(input: unknown, now: number) {
  const parsed = PauseInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldIssues(parsed.error));
  const p = parsed.data;
  if ((p.source === undefined) !== (p.source_kind === undefined)) {
    const path = p.source === undefined ? "source" : "source_kind";
    throw new ValidationError([{ path, message: "source and source_kind go together" }]);
  }
  if (
    p.source === undefined && p.domain === undefined && p.tag === undefined &&
    p.site === undefined
  ) {
    throw new ValidationError([{
      path: "",
      message: "a pause needs a source, a domain, a site or a tag",
    }]);
  }
  if (p.until !== undefined && p.until <= now) {
    throw new ValidationError([{ path: "until", message: "must be in the future" }]);
  }
  return p;
}

/** Stores a pause (in force on every node within about a second). */
export async function addPause(deps: PauseDeps, actor: Actor, input: unknown): Promise<PauseBody> {
  allow(actor, ACT_ROLES, "pause delivery");
  const now = Date.now();
  const p = parsePause(input, now);
  const record: PauseRecord = {
    id: `p-${crypto.randomUUID().slice(0, 8)}`,
    sourceKind: p.source_kind ?? null,
    source: p.source ?? null,
    domain: p.domain?.toLowerCase() ?? null,
    tag: p.tag ?? null,
    site: p.site?.toLowerCase() ?? null,
    endsAt: p.until ?? null,
    reason: p.reason ?? null,
    createdBy: actor.name,
    createdAt: now,
  };
  await deps.store.insertPause(record);
  const body = pauseBody(record, now);
  await recordAudit(deps.store, actor, {
    kind: "pause",
    object_id: record.id,
    action: "create",
    after: body,
  });
  emitPauseChange("paused", body, actor.name);
  await announce(deps);
  return body;
}

/** Every stored pause. */
export async function listPauses(deps: PauseDeps, actor: Actor): Promise<PauseBody[]> {
  allow(actor, READ_ROLES, "read pauses");
  const now = Date.now();
  return (await deps.store.listPauses()).map((p) => pauseBody(p, now));
}

/** Removes a pause; the nodes release what it held within about a second. */
export async function removePause(deps: PauseDeps, actor: Actor, id: string): Promise<void> {
  allow(actor, ACT_ROLES, "remove a pause");
  const before = (await deps.store.listPauses()).find((p) => p.id === id);
  if (!before || !(await deps.store.deletePause(id))) throw new NotFoundError("pause", id);
  await recordAudit(deps.store, actor, {
    kind: "pause",
    object_id: id,
    action: "delete",
    before: pauseBody(before),
  });
  emitPauseChange("resumed", pauseBody(before), actor.name);
  await announce(deps);
}
