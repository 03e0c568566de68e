/**
 * Walks the configuration schema and lists every key with its type, default and metadata
 * (`.meta({ description, live })`), for the generated reference (reference.ts) and for the test
 * that every key is described. Reads zod's schema definitions (`_zod.def`), the documented way
 * to introspect a zod 4 schema.
 */
import { z } from "zod";
import { formatDuration } from "./duration.ts";

/** One documented key. */
export interface KeyDoc {
  /** As written in the file: `smtp.auth.max_failures`, `routes.<domain>.host`, `ports[]`. */
  path: string;
  /** The top-level key it belongs to. */
  section: string;
  /** Human-readable type, e.g. "integer 1–65535", "list of duration". */
  type: string;
  /** The default as JSON (durations written as "5m"), "required", or null (optional). */
  default: string | null;
  description: string | null;
  /** Whether a running node applies a change; inherited by the fields of list items. */
  live: boolean | null;
  /** Whether `live` was set on this key itself (every key of an object section must set it). */
  ownLive: boolean;
  /** Nesting below its section: 0 for `smtp.max_errors`, 1 for `smtp.auth.max_failures`. */
  depth: number;
}

type Schema = z.core.$ZodType;
type Def = Record<string, unknown> & { type: string };

interface Unwrapped {
  core: Schema;
  description: string | null;
  live: boolean | null;
  /** The name of a map's key in paths (`key` in meta): `routes.<domain>`. */
  keyName: string | null;
  format: string | null;
  optional: boolean;
  nullable: boolean;
  hasDefault: boolean;
  defaultValue: unknown;
  /** The number a value must be after parsing (e.g. the `.pipe(z.number().min())` of a duration). */
  after: Schema | null;
}

function def(schema: Schema): Def {
  return schema._zod.def as unknown as Def;
}

/** Strips optional/nullable/default/prefault/pipe layers, gathering their metadata. */
function unwrap(schema: Schema): Unwrapped {
  const out: Unwrapped = {
    core: schema,
    description: null,
    live: null,
    keyName: null,
    format: null,
    optional: false,
    nullable: false,
    hasDefault: false,
    defaultValue: undefined,
    after: null,
  };
  let current = schema;
  for (;;) {
    const meta = z.globalRegistry.get(current) as Record<string, unknown> | undefined;
    if (meta) {
      if (out.description === null && typeof meta.description === "string") {
        out.description = meta.description;
      }
      if (out.live === null && typeof meta.live === "boolean") out.live = meta.live;
      if (out.keyName === null && typeof meta.key === "string") out.keyName = meta.key;
      if (out.format === null && typeof meta.format === "string") out.format = meta.format;
    }
    if (out.format !== null) break; // a named type (duration, rate…): its insides do not matter
    const d = def(current);
    if (d.type === "optional") out.optional = true;
    else if (d.type === "nullable") out.nullable = true;
    else if (d.type === "default") {
      out.hasDefault = true;
      out.defaultValue = d.defaultValue;
    } else if (d.type === "pipe") {
      const next = d.out as Schema;
      if (def(next).type !== "transform") out.after = next;
      current = d.in as Schema;
      continue;
    } else if (d.type !== "prefault") break;
    current = d.innerType as Schema;
  }
  out.core = current;
  return out;
}

function bounds(schema: Schema | null): { min?: string; max?: string; int: boolean } {
  const out: { min?: string; max?: string; int: boolean } = { int: false };
  if (schema === null || def(schema).type !== "number") return out;
  for (const check of (def(schema).checks ?? []) as Schema[]) {
    const c = check._zod.def as unknown as {
      check: string;
      value?: number;
      inclusive?: boolean;
      format?: string;
    };
    if (c.check === "number_format" && c.format === "safeint") out.int = true;
    if (c.check === "greater_than") out.min = `${c.inclusive ? "≥" : ">"} ${c.value}`;
    if (c.check === "less_than") out.max = `${c.inclusive ? "≤" : "<"} ${c.value}`;
  }
  return out;
}

/** " 1–65535", " ≥ 1", " > 0", or "" (values shown by `show`, e.g. as durations). */
function range(b: { min?: string; max?: string }, show: (v: number) => string): string {
  const value = (bound: string) => {
    const [op, n] = bound.split(" ");
    return { op, text: show(Number(n)) };
  };
  if (b.min && b.max && b.min.startsWith("≥") && b.max.startsWith("≤")) {
    return ` ${value(b.min).text}–${value(b.max).text}`;
  }
  return [b.min, b.max].filter((x) => x !== undefined).map((x) => {
    const { op, text } = value(x!);
    return ` ${op} ${text}`;
  }).join("");
}

/** A short name for a (wrapped) schema's type. */
function typeName(u: Unwrapped): string {
  let name: string;
  if (u.format !== null) {
    name = u.format;
    if (u.format === "duration") {
      name += range(bounds(u.after), formatDuration);
    }
  } else {
    const d = def(u.core);
    switch (d.type) {
      case "number": {
        const b = bounds(u.core);
        name = (b.int ? "integer" : "number") + range(b, String);
        break;
      }
      case "enum":
        name = Object.values(d.entries as Record<string, string>).map((v) => `"${v}"`).join(", ");
        name = `one of ${name}`;
        break;
      case "union":
        name = (d.options as Schema[]).map((o) => typeName(unwrap(o))).join(" or ");
        break;
      case "array":
        name = `list of ${typeName(unwrap(d.element as Schema))}`;
        break;
      case "record":
        name = `map of ${u.keyName ?? "name"} → ${typeName(unwrap(d.valueType as Schema))}`;
        break;
      default:
        name = d.type;
    }
  }
  return u.nullable ? `${name} or null` : name;
}

function formatDefault(value: unknown, u: Unwrapped): string {
  const isDuration = u.format === "duration" ||
    (def(u.core).type === "array" && unwrap(def(u.core).element as Schema).format === "duration");
  const show = (v: unknown): unknown =>
    isDuration && typeof v === "number" ? formatDuration(v) : Array.isArray(v) ? v.map(show) : v;
  return JSON.stringify(show(value));
}

/** The schemas whose fields are documented under a path (objects, list items, map values). */
function children(core: Schema, path: string, keyName: string | null): [Schema, string][] {
  const d = def(core);
  if (d.type === "object") return [[core, path]];
  if (d.type === "array") return nested(d.element as Schema, `${path}[]`);
  if (d.type === "record") return nested(d.valueType as Schema, `${path}.<${keyName ?? "name"}>`);
  if (d.type === "union") return (d.options as Schema[]).flatMap((o) => nested(o, path));
  return [];
}

function nested(schema: Schema, path: string): [Schema, string][] {
  const u = unwrap(schema);
  return children(u.core, path, u.keyName);
}

function walkObject(
  object: Schema,
  prefix: string,
  context: { section: string | null; depth: number; live: boolean | null; out: KeyDoc[] },
): void {
  const shape = def(object).shape as Record<string, Schema>;
  for (const [key, schema] of Object.entries(shape)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const u = unwrap(schema);
    const section = context.section ?? key;
    const live = u.live ?? context.live;
    context.out.push({
      path,
      section,
      type: typeName(u),
      default: u.hasDefault && def(u.core).type !== "object"
        ? formatDefault(u.defaultValue, u)
        : u.optional || u.hasDefault || def(u.core).type === "object"
        ? null
        : "required",
      description: u.description,
      live,
      ownLive: u.live !== null,
      depth: context.section === null ? 0 : context.depth,
    });
    const inner = { ...context, section, depth: context.section === null ? 0 : context.depth + 1 };
    for (const [child, childPath] of children(u.core, path, u.keyName)) {
      walkObject(child, childPath, { ...inner, live });
    }
  }
}

/** Every key of `schema` (an object), in schema order, parents before their fields. */
export function describeSchema(schema: Schema): KeyDoc[] {
  const out: KeyDoc[] = [];
  walkObject(schema, "", { section: null, depth: 0, live: null, out });
  return out;
}

/**
 * Keys whose metadata is missing: every key needs a description, and every key reached through
 * objects only (not a field of a list item or map value, which inherits) needs `live`.
 */
export function missingMetadata(keys: KeyDoc[]): string[] {
  const problems: string[] = [];
  for (const key of keys) {
    if (!key.description) problems.push(`${key.path}: no description`);
    const isContainer = key.type === "object";
    const inherits = key.path.includes("[]") || key.path.includes("<");
    if (!isContainer && !inherits && !key.ownLive) problems.push(`${key.path}: no live flag`);
  }
  return problems;
}
