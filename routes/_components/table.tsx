/**
 * A table in its own horizontally scrolling box, so a wide table never widens the page on a
 * phone; the header row is given as labels. Also the link under a list to its next page.
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

/** The link under a list to its next page (`href` carries the cursor and the list's filters). */
export function NextPageLink(props: { href: string; label: string }): VNode {
  return (
    <p class="mt-2">
      <a class="text-blue-700 underline" href={props.href}>
        {props.label}
      </a>
    </p>
  );
}
