/**
 * The management plane (docs/management.md): the one service behind the REST API, the CLI and
 * the console. `openManagement` gives every face the same object: one ObjectService per config
 * kind (validate · version · audit · broadcast), the audit log with revert, and the cluster
 * config version. Faces hold no logic or SQL of their own.
 *
 * Talks to: the store (config_objects, config_audit, config_version), the broker's config fanout
 * (through broadcast.ts). Reads config: rabbitmq (to announce), id.
 */
import type { Config } from "../config/mod.ts";
import type { ConfigObjectStore } from "../store/mod.ts";
import {
  type AuditEntry,
  auditEntry,
  type AuditInput,
  type AuditListOptions,
  listAudit,
  recordAudit,
} from "./audit.ts";
import { brokerAnnouncer, ChangeListeners } from "./broadcast.ts";
import {
  type BouncePolicyBody,
  type BounceRuleBody,
  isKind,
  type KindName,
  KINDS,
  type ListenerBody,
  type PoolBody,
  type RetentionBody,
  type RouteBody,
  type ShapingRuleBody,
  type VmtaBody,
} from "./kinds.ts";
import type { TlsCertificateBody } from "./tls_certificate_kind.ts";
import { type KindService, type ObjectChange, objectService } from "./objects.ts";
import { type Actor, type Page, ValidationError } from "./types.ts";

export * from "./types.ts";
export type { AuditEntry, AuditInput, AuditListOptions } from "./audit.ts";
export { recordAudit } from "./audit.ts";
export type { KindService, ObjectChange } from "./objects.ts";
export { checkRead, fieldIssues } from "./objects.ts";
export { isKind, KINDS } from "./kinds.ts";
export type {
  BouncePolicyBody,
  BounceRuleBody,
  KindName,
  ListenerBody,
  ObjectKind,
  PoolBody,
  RetentionBody,
  RouteBody,
  ShapingRuleBody,
  VmtaBody,
} from "./kinds.ts";

/** The services of every kind. */
export interface ObjectServices {
  vmta: KindService<VmtaBody>;
  pool: KindService<PoolBody>;
  listener: KindService<ListenerBody>;
  route: KindService<RouteBody>;
  shaping_rule: KindService<ShapingRuleBody>;
  retention: KindService<RetentionBody>;
  bounce_rule: KindService<BounceRuleBody>;
  bounce_policy: KindService<BouncePolicyBody>;
  tls_certificate: KindService<TlsCertificateBody>;
}

/** The audit log's face. */
export interface AuditService {
  list(options?: AuditListOptions): Promise<Page<AuditEntry>>;
  get(id: number): Promise<AuditEntry>;
  /** Records an action that is not an object change (queue operations). */
  record(actor: Actor, input: AuditInput): Promise<void>;
  /** Restores the entry's `before` state as a new change (itself audited, action "revert"). */
  revert(id: number, actor: Actor): Promise<AuditEntry>;
}

/** What `openManagement` returns. */
export interface Management {
  readonly objects: ObjectServices;
  readonly audit: AuditService;
  /** The service of a kind by name (for generic faces); null for an unknown kind. */
  service(kind: string): KindService<unknown> | null;
  /** The cluster config version (bumped by every change). */
  configVersion(): Promise<number>;
  /** Subscribes to changes committed through this object (the embedded live view). */
  onChange(listener: (change: ObjectChange) => void): () => void;
}

/** Options for {@link openManagement}. */
export interface ManagementOptions {
  /** With a broker configured, changes are announced on its config fanout. */
  config?: Config;
  log?: (line: string) => void;
  now?: () => number;
}

/** Opens the management plane on `store`. */
export function openManagement(
  store: ConfigObjectStore,
  options: ManagementOptions = {},
): Management {
  const listeners = new ChangeListeners();
  const announce = options.config ? brokerAnnouncer(options.config, options.config.nodeId) : null;
  const deps = {
    store,
    now: options.now,
    log: options.log,
    notify: async (change: ObjectChange) => {
      listeners.emit(change);
      await announce?.(change);
    },
  };
  const objects = Object.fromEntries(
    Object.entries(KINDS).map(([name, def]) => [name, objectService(def as never, deps)]),
  ) as unknown as ObjectServices;

  const audit: AuditService = {
    list: (listOptions) => listAudit(store, listOptions),
    get: (id) => auditEntry(store, id),
    record: (actor, input) => recordAudit(store, actor, input),
    async revert(id, actor) {
      const entry = await auditEntry(store, id, true);
      if (!isKind(entry.kind)) {
        throw new ValidationError([{
          path: "id",
          message: `Cannot revert a "${entry.action}" of ${entry.kind}: only config changes revert`,
        }]);
      }
      const service = objects[entry.kind as KindName] as KindService<unknown>;
      await service.restore(entry.object_id, entry.before, actor, "revert");
      const page = await listAudit(store, {
        limit: 1,
        kind: entry.kind,
        object_id: entry.object_id,
      });
      return page.items[0];
    },
  };

  return {
    objects,
    audit,
    service: (kind) => isKind(kind) ? objects[kind] as KindService<unknown> : null,
    configVersion: () => store.configVersion(),
    onChange: (listener) => listeners.add(listener),
  };
}
