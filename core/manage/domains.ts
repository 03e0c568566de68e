/**
 * Sending domains as managed objects: create (with a first DKIM key, or adopting the keys
 * `fastmta dkim` made before), change the bounce domain, rotate the key (the new one signs at
 * once on every node that reloads its keys, the old one is retired: it signs nothing and its
 * DNS record stays listed until the key is removed), remove, and the DNS records to publish.
 * Every change is validated (core/api/manage_schemas.ts), versioned and audited.
 *
 * Talks to: the store (sending_domains, dkim_keys), core/dkim (keys, sealing). Reads config:
 * dkim.master_key_file, ip_addressess (outbound), smtp.hostname.
 */
import {
  type DkimKeyRequest,
  DkimKeyRequestSchema,
  type DnsRecord,
  type DomainBody,
  DomainCreateSchema,
  DomainNameSchema,
  DomainUpdateSchema,
} from "../api/manage_schemas.ts";
import type { Config } from "../config/mod.ts";
import { addGeneratedKey, dnsRecordValue } from "../dkim/mod.ts";
import type {
  ConfigObjectStore,
  DkimKeyRecord,
  DkimKeyStore,
  SendingDomainStore,
} from "../store/mod.ts";
import { auditChange, type ChangeNote } from "./change_audit.ts";
import { domainDnsRecords } from "./dns_records.ts";
import { READERS, requireRole } from "./roles.ts";
import {
  type Actor,
  ConflictError,
  NotFoundError,
  type Page,
  type StoredObject,
  VersionConflictError,
} from "./types.ts";
import { validated } from "./validate.ts";

const KIND = "domain";

/** What the domain service needs. */
export interface DomainServiceOptions {
  store:
    & SendingDomainStore
    & DkimKeyStore
    & Pick<ConfigObjectStore, "recordAudit" | "allConfigObjects">;
  config: Pick<Config, "dkim" | "vmtas" | "smtp">;
  now?: () => number;
}

/** What a rotation did. */
export interface Rotation {
  domain: StoredObject<DomainBody>;
  selector: string;
  retired: string[];
}

/** The sending domains service (one per face; stateless beyond its options). */
export class DomainService {
  readonly kind = KIND;
  readonly #o: DomainServiceOptions;
  readonly #now: () => number;
  readonly #audit = (note: ChangeNote) => auditChange(this.#o.store, note);

  constructor(options: DomainServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Every sending domain, by name (`cursor`: the last name of the previous page). */
  async list(
    options: { cursor?: string; limit?: number } = {},
    actor?: Actor,
  ): Promise<Page<StoredObject<DomainBody>>> {
    if (actor) requireRole(actor, READERS, "read sending domains");
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const [domains, keys] = await Promise.all([
      this.#o.store.sendingDomains(),
      this.#o.store.dkimKeys(),
    ]);
    const after = domains.filter((d) => options.cursor === undefined || d.name > options.cursor);
    const items = after.slice(0, limit).map((d) => this.#stored(d, keys));
    return after.length > limit ? { items, next_cursor: items.at(-1)!.id } : { items };
  }

  async get(id: string, actor?: Actor): Promise<StoredObject<DomainBody> | null> {
    if (actor) requireRole(actor, READERS, "read sending domains");
    const name = this.#name(id);
    const record = await this.#o.store.sendingDomain(name);
    return record ? this.#stored(record, await this.#o.store.dkimKeys()) : null;
  }

  /** Adds a domain; makes its first DKIM key unless `fastmta dkim` made some already. */
  async create(input: unknown, actor: Actor): Promise<StoredObject<DomainBody>> {
    requireRole(actor, ["admin"], "add sending domains");
    const request = validated(DomainCreateSchema, input);
    const now = this.#now();
    const existingKeys = await this.#keysOf(request.name);
    const created = await this.#o.store.insertSendingDomain({
      name: request.name,
      bounceDomain: request.bounce_domain,
      version: 1,
      createdAt: now,
      updatedAt: now,
      updatedBy: actor.name,
    });
    if (!created) throw new ConflictError(`Sending domain "${request.name}" already exists`);
    const selector = existingKeys.length === 0
      ? await this.#addKey(request.name, request.dkim, now)
      : null;
    const domain = (await this.get(request.name))!;
    await this.#audit({
      actor,
      action: "create",
      kind: KIND,
      id: request.name,
      version: 1,
      detail: selector ? `dkim selector ${selector}` : `adopted ${existingKeys.length} key(s)`,
    });
    return domain;
  }

  /** Changes the bounce domain (`ifVersion`: only if the domain is still at that version). */
  async update(
    id: string,
    input: unknown,
    actor: Actor,
    options: { ifVersion?: number } = {},
  ): Promise<StoredObject<DomainBody>> {
    requireRole(actor, ["admin"], "change sending domains");
    const change = validated(DomainUpdateSchema, input);
    const current = await this.#current(id, options.ifVersion);
    const version = await this.#bump(current.name, current.version, actor, {
      bounceDomain: change.bounce_domain,
    });
    await this.#audit({ actor, action: "update", kind: KIND, id: current.name, version });
    return (await this.get(current.name))!;
  }

  /** Removes a domain and every DKIM key of it. */
  async remove(id: string, actor: Actor, options: { ifVersion?: number } = {}): Promise<void> {
    requireRole(actor, ["admin"], "remove sending domains");
    const current = await this.#current(id, options.ifVersion);
    if (!await this.#o.store.deleteSendingDomain(current.name, current.version)) {
      throw await this.#conflict(current.name);
    }
    await this.#audit({ actor, action: "remove", kind: KIND, id: current.name });
  }

  /** A new key signs from now on; the domain's other signing keys are retired (kept). */
  async rotate(
    id: string,
    input: unknown,
    actor: Actor,
    options: { ifVersion?: number } = {},
  ): Promise<Rotation> {
    requireRole(actor, ["admin"], "rotate DKIM keys");
    const request = validated(DkimKeyRequestSchema, input ?? {});
    const current = await this.#current(id, options.ifVersion);
    const now = this.#now();
    const selector = await this.#addKey(current.name, request, now);
    const retired = await this.#o.store.retireDkimKeys(current.name, selector, now);
    const version = await this.#bump(current.name, current.version, actor, {});
    await this.#audit({
      actor,
      action: "rotate",
      kind: KIND,
      id: current.name,
      version,
      detail: `new selector ${selector}` + (retired.length ? `, retired ${retired.join(" ")}` : ""),
    });
    return { domain: (await this.get(current.name))!, selector, retired };
  }

  /** Removes one key (e.g. a retired one once its DNS record is gone). */
  async removeKey(id: string, selector: string, actor: Actor): Promise<StoredObject<DomainBody>> {
    requireRole(actor, ["admin"], "remove DKIM keys");
    const current = await this.#current(id);
    if (!await this.#o.store.removeDkimKey(current.name, selector)) {
      throw new NotFoundError("dkim key", `${selector}._domainkey.${current.name}`);
    }
    const version = await this.#bump(current.name, current.version, actor, {});
    await this.#audit({
      actor,
      action: "remove-key",
      kind: KIND,
      id: current.name,
      version,
      detail: `selector ${selector}`,
    });
    return (await this.get(current.name))!;
  }

  /** The DNS records to publish for a domain. */
  async dns(id: string, actor?: Actor): Promise<DnsRecord[]> {
    if (actor) requireRole(actor, READERS, "read sending domains");
    const current = await this.#current(id);
    return domainDnsRecords({
      name: current.name,
      bounceDomain: current.bounceDomain,
      keys: await this.#keysOf(current.name),
      vmtaIps: await this.#vmtaIps(),
      mxHost: this.#o.config.smtp.hostname,
    });
  }

  /**
   * Every outbound IP of the cluster: the vmta objects (core/manage, any node's) and, before
   * any is stored, this node's file config. A disabled vmta still counts: it may come back.
   */
  async #vmtaIps(): Promise<string[]> {
    const ips = new Set<string>();
    for (const o of await this.#o.store.allConfigObjects()) {
      if (o.kind !== "vmta" || o.deleted) continue;
      const ip = (JSON.parse(o.body) as { ip?: unknown }).ip;
      if (typeof ip === "string") ips.add(ip);
    }
    if (ips.size === 0) { for (const v of this.#o.config.vmtas) ips.add(v.ip); }
    return [...ips];
  }

  #name(id: string): string {
    const parsed = DomainNameSchema.safeParse(id);
    if (!parsed.success) throw new NotFoundError(KIND, id);
    return parsed.data;
  }

  async #current(id: string, ifVersion?: number) {
    const name = this.#name(id);
    const record = await this.#o.store.sendingDomain(name);
    if (!record) throw new NotFoundError(KIND, name);
    if (ifVersion !== undefined && record.version !== ifVersion) {
      throw new VersionConflictError(KIND, name, record.version);
    }
    return record;
  }

  async #conflict(name: string): Promise<Error> {
    const now = await this.#o.store.sendingDomain(name);
    return now ? new VersionConflictError(KIND, name, now.version) : new NotFoundError(KIND, name);
  }

  /** Stores the next version (with `change`); returns it. */
  async #bump(
    name: string,
    version: number,
    actor: Actor,
    change: { bounceDomain?: string | null },
  ): Promise<number> {
    const current = (await this.#o.store.sendingDomain(name))!;
    const next = {
      ...current,
      ...change,
      version: version + 1,
      updatedAt: this.#now(),
      updatedBy: actor.name,
    };
    if (!await this.#o.store.updateSendingDomain(next, version)) throw await this.#conflict(name);
    return next.version;
  }

  async #keysOf(name: string): Promise<DkimKeyRecord[]> {
    return (await this.#o.store.dkimKeys()).filter((k) => k.domain === name);
  }

  /** Generates, seals and stores a key; returns its selector. */
  async #addKey(domain: string, request: DkimKeyRequest, now: number): Promise<string> {
    const taken = new Set((await this.#keysOf(domain)).map((k) => k.selector));
    let selector = request.selector;
    if (selector !== undefined && taken.has(selector)) {
      throw new ConflictError(`Key "${selector}._domainkey.${domain}" already exists`);
    }
    if (selector === undefined) {
      const base = `s${new Date(now).toISOString().slice(0, 10).replaceAll("-", "")}`;
      selector = base;
      for (let n = 2; taken.has(selector); n++) selector = `${base}-${n}`;
    }
    await addGeneratedKey(this.#o.store, this.#o.config.dkim.masterKeyFile, {
      domain,
      selector,
      kind: request.algorithm,
      bits: request.bits,
      createdAt: now,
      retiredAt: null,
    });
    return selector;
  }

  #stored(
    record: Awaited<ReturnType<SendingDomainStore["sendingDomain"]>> & object,
    keys: DkimKeyRecord[],
  ): StoredObject<DomainBody> {
    const body: DomainBody = {
      name: record.name,
      bounce_domain: record.bounceDomain,
      version: record.version,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      updated_by: record.updatedBy,
      dkim_keys: keys.filter((k) => k.domain === record.name).map((k) => ({
        selector: k.selector,
        algorithm: k.algorithm,
        created_at: k.createdAt,
        retired_at: k.retiredAt ?? null,
        dns_name: `${k.selector}._domainkey.${record.name}`,
        dns_value: dnsRecordValue(k.algorithm, k.publicKey),
      })),
    };
    return {
      kind: KIND,
      id: record.name,
      version: record.version,
      body,
      updated_at: record.updatedAt,
      updated_by: record.updatedBy,
    };
  }
}
