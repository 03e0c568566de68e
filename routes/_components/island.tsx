/** Server side of an island: the markup the browser bundle hydrates (see islands/client.ts). */
import type { VNode } from "preact";

/** Wraps an island component for hydration in the browser. */
export function Island(props: { name: string; props: unknown; children: VNode }): VNode {
  return (
    <div data-island={props.name} data-props={JSON.stringify(props.props)}>
      {props.children}
    </div>
  );
}
