/**
 * One node's live view of the configuration objects, on the main thread. It seeds from the
 * file at first start, loads every object, merges the managed parts (live_state.ts) into the
 * node's `Config` in place and tells `onApplied`, which pushes the config to the workers
 * (`config` messages) and reloads what depends on other kinds (shaping rules).
 *
 * It re-reads when told (a change made in this process, a ConfigEvent from the broker) and
 * polls the cluster config version every `pollMs` (one single-row read): a change made by the
 * CLI next to an embedded server, or a broadcast that was lost, applies within that time.
 * A merged config that does not hold together (e.g. a pool rule naming a pool that no longer
 * has members) is logged and not applied: the node keeps its previous state.
 *
 * Talks to: the store. Reads config: id, rabbitmq (seeding), the managed parts.
 */
import type { Config } from "../config/mod.ts";
import { applyManagedParts } from "../cluster/live.ts";
import { buildPools } from "../routing/sources.ts";
import type { ConfigObjectRecord, ConfigObjectStore } from "../store/mod.ts";
import { managedParts, withParts } from "./live_state.ts";
import { type Management, openManagement } from "./mod.ts";
import { seedFromConfig } from "./seed.ts";
import type { ListenerBody } from "./kinds.ts";
import { type CertificateFiles, writeManagedCertificates } from "./tls_files.ts";

/** What changed in one application. */
export interface AppliedChange {
  /** Managed parts of the config that changed (MANAGED_PARTS). */
  parts: string[];
  /** Kinds whose objects changed (e.g. "shaping_rule"); empty on a warm-up day change. */
  kinds: string[];
  /** The cluster config version now applied. */
  version: number;
}

/** Options for {@link LiveView}. */
export interface LiveViewOptions {
  /** The node's live config, changed in place. */
  config: Config;
  onApplied: (change: AppliedChange) => void;
  log: (line: string) => void;
  /** How often the version is polled (default 1 s). */
  pollMs?: number;
}

/** Keeps a node's config in step with the stored objects. */
export class LiveView {
  #store: ConfigObjectStore;
  #management: Management;
  #options: LiveViewOptions;
  #objects: ConfigObjectRecord[] = [];
  #signatures = new Map<string, string>();
  #partsSignature = "";
  #version = -1;
  #rejected = -1;
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #unsubscribe: (() => void) | null = null;

  constructor(store: ConfigObjectStore, management: Management, options: LiveViewOptions) {
    this.#store = store;
    this.#management = management;
    this.#options = options;
  }

  /** The cluster config version this node has applied (-1 before the first load). */
  get version(): number {
    return this.#version;
  }

  /** Seeds, loads and applies once, then follows changes. */
  async start(): Promise<void> {
    // Seeded without announcements (one broker connection per object would slow the start):
    // the other nodes see the new version on their next poll.
    const quiet = openManagement(this.#store, { log: this.#options.log });
    await seedFromConfig(quiet, this.#store, this.#options.config, this.#options.log);
    await this.#refresh(true);
    this.#unsubscribe = this.#management.onChange(() => this.reload());
    this.#timer = setInterval(() => this.reload(false), this.#options.pollMs ?? 1_000);
  }

  /**
   * Re-reads (`force`: even if the version did not move) and applies what changed; concurrent
   * calls coalesce into one more run.
   */
  reload(force = true): Promise<void> {
    if (this.#running) {
      if (force) this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      let forced = force;
      do {
        this.#again = false;
        try {
          await this.#refresh(forced);
        } catch (error) {
          this.#options.log(`cannot load config objects: ${(error as Error).message}`);
        }
        forced = true;
      } while (this.#again);
    })().finally(() => this.#running = null);
    return this.#running;
  }

  async #refresh(force: boolean) {
    const version = await this.#store.configVersion();
    let kinds: string[] = [];
    if (force || version !== this.#version) {
      this.#objects = await this.#store.allConfigObjects();
      kinds = this.#changedKinds();
    }
    this.#apply(version, kinds);
  }

  #changedKinds(): string[] {
    const byKind = new Map<string, string[]>();
    for (const o of this.#objects) {
      const list = byKind.get(o.kind) ?? [];
      list.push(`${o.id}:${o.version}`);
      byKind.set(o.kind, list);
    }
    const changed: string[] = [];
    for (const kind of new Set([...byKind.keys(), ...this.#signatures.keys()])) {
      const signature = (byKind.get(kind) ?? []).join(",");
      if (this.#signatures.get(kind) !== signature) changed.push(kind);
      this.#signatures.set(kind, signature);
    }
    return changed;
  }

  #apply(version: number, kinds: string[]) {
    const { config } = this.#options;
    const stored = this.#objects.filter((o) => o.kind === "tls_certificate").length;
    // Written when the objects changed (or a write failed: retried each poll), not every poll.
    if (kinds.length > 0 || this.#version === -1 || this.#certificates.size < stored) {
      this.#certificates = writeManagedCertificates(
        this.#objects,
        config.dataDir,
        this.#options.log,
      );
    }
    const certificates = this.#certificates;
    const parts = managedParts(
      this.#objects,
      config.nodeId,
      Date.now(),
      certificates,
      config.smtp.tls.certificate,
    );
    this.#reportMissingCertificates(certificates);
    const signature = JSON.stringify(parts);
    let changedParts: string[] = [];
    if (signature !== this.#partsSignature) {
      const next = withParts(config, parts);
      try {
        buildPools(next); // a pool rule or default pool naming a pool that is gone
      } catch (error) {
        // Not applied, so not reported as applied; said once per version.
        if (this.#rejected !== version) {
          this.#options.log(
            `not applying config version ${version}, keeping the previous state: ${
              (error as Error).message
            }`,
          );
        }
        this.#rejected = version;
        return;
      }
      this.#partsSignature = signature;
      changedParts = applyManagedParts(config, next);
    }
    const first = this.#version === -1;
    const moved = version !== this.#version;
    this.#version = version;
    if (!first && (changedParts.length > 0 || kinds.length > 0)) {
      this.#options.log(
        `config version ${version} applied: ${[...changedParts, ...kinds].join(", ")}`,
      );
    }
    if (first || changedParts.length > 0 || kinds.length > 0 || moved) {
      this.#options.onApplied({ parts: changedParts, kinds, version });
    }
  }

  #missingSaid = "";
  #certificates: ReadonlyMap<string, CertificateFiles> = new Map();

  /** Says once per set which listeners name a certificate that is not stored. */
  #reportMissingCertificates(certificates: ReadonlyMap<string, unknown>) {
    const missing: string[] = this.#objects.filter((o) => o.kind === "listener").flatMap((o) => {
      try {
        const body = JSON.parse(o.body) as ListenerBody;
        const name = body.tls_certificate;
        const here = !body.node || body.node === this.#options.config.nodeId;
        return here && name && !certificates.has(name)
          ? [`${o.id} (tls_certificate "${name}")`]
          : [];
      } catch {
        return [];
      }
    });
    const fallback = this.#options.config.smtp.tls.certificate;
    if (fallback && !certificates.has(fallback)) {
      missing.push(`smtp.tls.certificate "${fallback}" (serving smtp.tls files meanwhile)`);
    }
    this.#sayMissing(missing.join(", "));
  }

  #sayMissing(missing: string) {
    if (missing && missing !== this.#missingSaid) {
      this.#options.log(`TLS certificates named but not stored: ${missing}`);
    }
    this.#missingSaid = missing;
  }

  /** Stops following changes. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.#running;
  }
}
