/**
 * Labelled form controls, the two shapes every console form uses: a small control with its
 * caption wrapped in the label (filters, pause and suppression forms), and a field with a
 * separate `<label for>`, its errors and its hint tied to the control by `aria-describedby`
 * (the generated object forms, the new console user). The control itself stays the caller's:
 * names, ids, values and choices differ on every page.
 */
import type { ComponentChildren, VNode } from "preact";

/** The class of a text input or select that fills its grid cell. */
export const FIELD_INPUT = "border rounded px-2 py-1 w-full";

/** {@link FIELD_INPUT} with the focus ring of the edit forms. */
export const FORM_INPUT = `${FIELD_INPUT} focus:outline-none focus:ring-2 focus:ring-blue-500`;

/** A caption above its control, both inside one `<label>` (so no id is needed). */
export function CaptionedControl(props: { label: ComponentChildren; children: ComponentChildren }) {
  return (
    <label class="text-sm">
      <span class="block text-gray-700">{props.label}</span>
      {props.children}
    </label>
  );
}

/** What a {@link LabelledField}'s control carries so that assistive technology finds its errors. */
export interface FieldAria {
  invalid: boolean;
  /** The ids of the error line and the hint, space-separated; undefined when neither shows. */
  describedBy: string | undefined;
}

/** Options of {@link LabelledField}. */
export interface LabelledFieldProps {
  /** The control's id; the error line is `ID-error`, the hint `ID-hint`. */
  id: string;
  /** The field's name or path, as the error line's `data-error`. */
  name: string;
  label: ComponentChildren;
  /** The field's errors ("; "-joined on one line under the control). */
  errors: readonly string[];
  /** A description shown under the control. */
  hint?: string;
  /** The class of the wrapping `<div>`. */
  class?: string;
  /** What stands above the label (a group heading). */
  heading?: ComponentChildren;
  /** Renders the control with the given id and aria state. */
  control: (aria: FieldAria) => ComponentChildren;
}

/** A `<label for>`, the control, its errors and its hint. */
export function LabelledField(props: LabelledFieldProps): VNode {
  const errorId = props.errors.length > 0 ? `${props.id}-error` : "";
  const hintId = props.hint ? `${props.id}-hint` : "";
  return (
    <div class={props.class}>
      {props.heading}
      <label for={props.id} class="block text-sm font-medium text-gray-800">{props.label}</label>
      {props.control({
        invalid: props.errors.length > 0,
        describedBy: [errorId, hintId].filter(Boolean).join(" ") || undefined,
      })}
      {props.errors.length > 0 && (
        <p id={errorId} class="text-sm text-red-700" data-error={props.name}>
          {props.errors.join("; ")}
        </p>
      )}
      {props.hint && <p id={hintId} class="text-xs text-gray-600">{props.hint}</p>}
    </div>
  );
}
