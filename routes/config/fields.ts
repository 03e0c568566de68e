/**
 * The generic form of a configuration kind, made from its zod schema (core/manage/kinds.ts) by
 * way of its JSON Schema (`z.toJSONSchema`): every leaf becomes one field named by its dotted
 * path ("rule.max_connections"), with its type, choices, default and description. Scalars get
 * their own input; lists and mixed unions a JSON box. The same field list turns a stored body
 * into the form's strings and the posted strings back into a body; the service validates that
 * body, so a wrong value comes back as a FieldIssue on the field's path.
 */
import { z } from "zod";
import { formatDuration } from "../../core/config/duration.ts";
import type { FieldIssue } from "../../core/manage/types.ts";

/** How one field is edited. */
export type FieldInput = "text" | "number" | "boolean" | "choice" | "json";

/** One field of a generated form. */
export interface FormField {
  path: string;
  input: FieldInput;
  required: boolean;
  description?: string;
  choices?: string[];
  /** The schema's default, shown as the placeholder. */
  placeholder?: string;
  /** A text field that also takes a number (a duration: "5m" or ms): digits post as a number. */
  numeric?: boolean;
  /** Nesting (0: top level): the form indents sub-objects' fields under their group. */
  depth: number;
  /** The label of the group this field opens ("rule"), when it is the group's first. */
  group?: string;
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
};

function inputOf(schema: JsonSchema): FieldInput {
  if (schema.enum && schema.enum.every((v) => typeof v === "string")) return "choice";
  const types = schema.anyOf
    ? schema.anyOf.flatMap((s) => s.anyOf ?? [s]).map((s) => s.type)
    : [schema.type];
  const flat = types.flat().filter((t) => t !== undefined);
  if (flat.length > 0 && flat.every((t) => t === "string")) return "text";
  if (flat.length === 1 && (flat[0] === "integer" || flat[0] === "number")) return "number";
  if (flat.length === 1 && flat[0] === "boolean") return "boolean";
  // A duration ("5m" or milliseconds): typed as text.
  if (!schema.anyOf && Array.isArray(schema.type) && schema.type.every((t) => t !== "array")) {
    return "text";
  }
  return "json";
}

function walk(
  schema: JsonSchema,
  prefix: string,
  depth: number,
  required: boolean,
  out: FormField[],
): void {
  const objectLike = schema.type === "object" && schema.properties;
  if (objectLike) {
    let first = true;
    for (const [key, child] of Object.entries(schema.properties!)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const before = out.length;
      walk(child, path, prefix ? depth + 1 : depth, (schema.required ?? []).includes(key), out);
      if (first && prefix && out.length > before) out[before].group = prefix;
      first = false;
    }
    return;
  }
  const input = inputOf(schema);
  out.push({
    path: prefix,
    input,
    required,
    description: schema.description,
    choices: input === "choice" ? schema.enum as string[] : undefined,
    numeric: input === "text" && Array.isArray(schema.type) && schema.type.includes("number"),
    placeholder: schema.default === undefined ? undefined : JSON.stringify(schema.default)
      .replace(/^"|"$/g, ""),
    depth,
  });
}

const cache = new WeakMap<z.ZodType, FormField[]>();

/** The fields of `schema`'s form, in schema order. */
export function formFields(schema: z.ZodType): FormField[] {
  let fields = cache.get(schema);
  if (!fields) {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    fields = [];
    walk(json, "", 0, true, fields);
    cache.set(schema, fields);
  }
  return fields;
}

function at(body: unknown, path: string): unknown {
  let value = body;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** A stored body as the form's strings. */
export function formValues(fields: FormField[], body: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of fields) {
    const value = at(body, field.path);
    if (value === undefined) continue;
    if (field.input === "json") values[field.path] = JSON.stringify(value);
    else if (field.input === "boolean") values[field.path] = value ? "true" : "false";
    // A duration is stored in ms but bare digits post as seconds: show it in units ("30d").
    else if (field.numeric && typeof value === "number") {
      values[field.path] = formatDuration(value);
    } else values[field.path] = value === null ? "" : String(value);
  }
  return values;
}

function put(body: Record<string, unknown>, path: string, value: unknown) {
  const keys = path.split(".");
  let target = body;
  for (const key of keys.slice(0, -1)) {
    target[key] ??= {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys[keys.length - 1]] = value;
}

/**
 * The posted strings as a body for the service: empty fields are left out (the schema's default
 * applies), numbers and yes/no are converted, JSON boxes parsed. A box that is not JSON is an
 * issue on its field; the rest is the schema's to judge.
 */
export function bodyOf(
  fields: FormField[],
  form: Record<string, string>,
): { body: Record<string, unknown>; issues: FieldIssue[] } {
  const body: Record<string, unknown> = {};
  const issues: FieldIssue[] = [];
  for (const field of fields) {
    const raw = (form[field.path] ?? "").trim();
    if (raw === "") continue;
    switch (field.input) {
      case "number": {
        const n = Number(raw);
        put(body, field.path, Number.isFinite(n) ? n : raw);
        break;
      }
      case "boolean":
        put(body, field.path, raw === "true");
        break;
      case "json":
        try {
          put(body, field.path, JSON.parse(raw));
        } catch {
          issues.push({ path: field.path, message: "Expected JSON, e.g. [] or {}" });
        }
        break;
      default:
        put(body, field.path, field.numeric && /^\d+$/.test(raw) ? Number(raw) : raw);
    }
  }
  return { body, issues };
}

/**
 * Issues by the field they belong to: an issue on "warmup.0.day" belongs to the JSON box
 * "warmup"; one no field holds (the whole object) is keyed "".
 */
export function issuesByField(
  fields: FormField[],
  issues: FieldIssue[],
): Map<string, string[]> {
  const byField = new Map<string, string[]>();
  for (const issue of issues) {
    const owner = fields
      .filter((f) => issue.path === f.path || issue.path.startsWith(f.path + "."))
      .sort((a, b) => b.path.length - a.path.length)[0]?.path ?? "";
    byField.set(owner, [...(byField.get(owner) ?? []), issue.message]);
  }
  return byField;
}
