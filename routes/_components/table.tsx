/**
 * A table in its own horizontally scrolling box, so a wide table never widens the page on a
 * phone; the header row is given as labels.
 */
import type { ComponentChildren, VNode } from "preact";

/** A data table; `caption` is read by screen readers (and shown when `showCaption`). */
export function Table(
  props: { head: string[]; children: ComponentChildren; caption?: string },
): VNode {
  return (
    <div class="overflow-x-auto bg-white shadow rounded">
      <table class="w-full text-sm">
        {props.caption && <caption class="sr-only">{props.caption}</caption>}
        <thead class="text-left text-gray-600">
          <tr>
            {props.head.map((h) => <th key={h} scope="col" class="p-2 whitespace-nowrap">{h}</th>)}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
