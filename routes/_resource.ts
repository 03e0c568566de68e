/**
 * What a configuration kind brings to be served over REST (routes/_crud.ts makes its routes):
 * the management plane's ObjectService and its zod body schema. Types only, so the context
 * (routes/_context.ts) can name the mount point without importing the routes.
 */
import type { z } from "zod";
import type { ObjectService, Role } from "../core/manage/types.ts";

/** One kind served over REST. */
export interface CrudResource {
  /** The path segment: "vmtas", "shaping-rules". */
  path: string;
  /** The component name in the OpenAPI document: "Vmta", "ShapingRule". */
  name: string;
  service: ObjectService;
  /**
   * The body of one object (what POST and PUT take; PATCH takes any part of it). It documents
   * the routes; the service validates (one place, the same messages on every face).
   */
  body: z.ZodType;
  /** The body as read back, when it differs (write-only fields left out); default `body`. */
  shownBody?: z.ZodType;
  /** Who may change it (default admin; operators for suppressions and pauses). */
  writeRoles?: readonly Role[];
  /** Who may read it (default everyone but senders). */
  readRoles?: readonly Role[];
}

/** The resources to serve at /api/v1/<path>. */
export type ResourceServices = readonly CrudResource[];
