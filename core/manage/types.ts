/**
 * The management plane's shared vocabulary: who acts, the errors every face (REST API, CLI,
 * console) maps to its own form, and the shape of a versioned configuration object. The service
 * itself lives beside this file; the faces depend only on these types, so they can be written and
 * tested against a fake service.
 */

/** What a caller may do: admin everything; operator queue actions, pauses, suppressions; viewer
 * reads; sender sends mail and reads the messages its own key sent. */
export type Role = "admin" | "operator" | "viewer" | "sender";
export const ROLES: readonly Role[] = ["admin", "operator", "viewer", "sender"];

/** Through which face a change came (kept in the audit log). */
export type Channel = "api" | "cli" | "console" | "seed" | "system";

/** Who is acting: a console user, an API key or the CLI's local user. */
export interface Actor {
  /** e.g. "alice" (console user), "key:deploy" (API key), "cli:root" */
  name: string;
  role: Role;
  channel: Channel;
  /** For role "sender": the API key id, so a sender reads only what it sent. */
  api_key_id?: string;
}

/** One problem with the input: the field path as written in JSON (e.g. "pool", "rules.0.max"). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Input was invalid; nothing was changed. API: 400 problem details with `errors`. */
export class ValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; "));
    this.name = "ValidationError";
  }
}

/** No such object or message. API: 404. */
export class NotFoundError extends Error {
  constructor(readonly kind: string, readonly id: string) {
    super(`${kind} "${id}" not found`);
    this.name = "NotFoundError";
  }
}

/** The object changed since the caller read it (If-Match / expected version). API: 412. */
export class VersionConflictError extends Error {
  constructor(readonly kind: string, readonly id: string, readonly current: number) {
    super(`${kind} "${id}" is at version ${current}; re-read it and retry`);
    this.name = "VersionConflictError";
  }
}

/** The object exists already (create with a taken id). API: 409. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}

/** The actor's role does not allow this. API: 403. */
export class ForbiddenError extends Error {
  constructor(message = "Your role does not allow this") {
    super(message);
    this.name = "ForbiddenError";
  }
}

/** A stored configuration object (vmta, pool, listener, route, ...). JSON fields are snake_case. */
export interface StoredObject<T = Record<string, unknown>> {
  kind: string;
  id: string;
  /** Per object, from 1; the API's ETag. */
  version: number;
  body: T;
  updated_at: number;
  updated_by: string;
}

/** A page of results; `next_cursor` is absent on the last page. */
export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

/** The CRUD surface of one object kind, as every face calls it. */
export interface ObjectService<T = Record<string, unknown>> {
  readonly kind: string;
  list(options: { cursor?: string; limit?: number }): Promise<Page<StoredObject<T>>>;
  get(id: string): Promise<StoredObject<T> | null>;
  /** Validates `input` (ValidationError naming the field), stores version 1, audits, broadcasts. */
  create(input: unknown, actor: Actor): Promise<StoredObject<T>>;
  /** Full replacement or a partial patch; `ifVersion` guards against a lost update. */
  update(
    id: string,
    input: unknown,
    actor: Actor,
    options?: { ifVersion?: number; partial?: boolean },
  ): Promise<StoredObject<T>>;
  remove(id: string, actor: Actor, options?: { ifVersion?: number }): Promise<void>;
}
