/**
 * The generated form of a configuration kind (fields.ts): a labelled input per field, the
 * schema's description under it, and the service's error for that field right beside it
 * (`aria-invalid`, `aria-describedby`), so a wrong value is shown where it was typed.
 */
import type { VNode } from "preact";
import { FORM_INPUT, LabelledField } from "../_components/field.tsx";
import { useSession } from "../_components/session.ts";
import type { FormField } from "./fields.ts";

function fieldId(path: string): string {
  return "f-" + path.replace(/[^A-Za-z0-9_-]/g, "-");
}

function Control(
  props: { field: FormField; value: string; invalid: boolean; describedBy?: string },
) {
  const { field, value } = props;
  const common = {
    id: fieldId(field.path),
    name: field.path,
    "aria-invalid": props.invalid ? true as const : undefined,
    "aria-describedby": props.describedBy,
    class: FORM_INPUT + (props.invalid ? " border-red-600" : ""),
  };
  if (field.input === "boolean" || field.input === "choice") {
    const choices = field.input === "boolean" ? ["true", "false"] : field.choices ?? [];
    return (
      <select {...common}>
        <option value="">
          {field.placeholder ? `(default: ${field.placeholder})` : "(not set)"}
        </option>
        {choices.map((choice) => (
          <option value={choice} selected={choice === value}>
            {field.input === "boolean" ? (choice === "true" ? "yes" : "no") : choice}
          </option>
        ))}
      </select>
    );
  }
  if (field.input === "json") {
    return <textarea {...common} rows={2} placeholder="JSON, e.g. []">{value}</textarea>;
  }
  return (
    <input
      {...common}
      type={field.path.endsWith("password") ? "password" : "text"}
      autocomplete={field.path.endsWith("password") ? "new-password" : undefined}
      inputMode={field.input === "number" ? "decimal" as const : undefined}
      value={value}
      placeholder={field.placeholder}
      required={field.required && field.depth === 0}
    />
  );
}

/** The form; `errors` by field path ("" for the whole object), `values` as typed or stored. */
export function ObjectForm(props: {
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
  action: string;
  submitLabel: string;
  version?: number;
}): VNode {
  const session = useSession();
  const general = props.errors.get("") ?? [];
  return (
    <form method="post" action={props.action} class="bg-white shadow rounded p-4 grid gap-3">
      <input type="hidden" name="_csrf" value={session?.csrfToken ?? ""} />
      {props.version !== undefined && (
        <input type="hidden" name="_version" value={String(props.version)} />
      )}
      {general.length > 0 && (
        <p class="text-red-700" role="alert" data-error="form">
          {general.join("; ")}
        </p>
      )}
      {props.fields.map((field) => (
        <LabelledField
          id={fieldId(field.path)}
          name={field.path}
          label={
            <>
              {field.path}
              {field.required && field.depth === 0 && <span class="text-red-700">*</span>}
            </>
          }
          errors={props.errors.get(field.path) ?? []}
          hint={field.description}
          class={field.depth > 0 ? "sm:pl-6" : ""}
          heading={field.group && (
            <p class="font-semibold text-gray-800 -ml-0 mb-1">{field.group}</p>
          )}
          control={(aria) => (
            <Control
              field={field}
              value={props.values[field.path] ?? ""}
              invalid={aria.invalid}
              describedBy={aria.describedBy}
            />
          )}
        />
      ))}
      <div>
        <button
          type="submit"
          class="px-4 py-2 rounded bg-gray-900 text-white hover:bg-gray-700 focus:outline-none focus:ring-2 focus:ring-blue-500"
        >
          {props.submitLabel}
        </button>
      </div>
    </form>
  );
}

/** The section under a list with the form for a new object (config kinds, accounts, domains). */
export function NewObjectSection(props: {
  heading: string;
  action: string;
  fields: FormField[];
  values: Record<string, string>;
  errors: Map<string, string[]>;
}): VNode {
  return (
    <section class="mt-6 max-w-3xl">
      <h2 class="text-xl font-bold mb-2">{props.heading}</h2>
      <ObjectForm
        fields={props.fields}
        values={props.values}
        errors={props.errors}
        action={props.action}
        submitLabel="Create"
      />
    </section>
  );
}
