/**
 * Browser entry: hydrates every `[data-island]` element rendered by the server with its component
 * and props. Bundled to static/islands.js by `deno task build` (deno bundle --platform browser).
 */
import { h, hydrate } from "preact";
import { ActivityChart } from "./activity_chart.tsx";
import { AttemptsTail } from "./attempts_tail.tsx";
import { QueueCounts } from "./queue_counts.tsx";

// deno-lint-ignore no-explicit-any
const ISLANDS: Record<string, (props: any) => unknown> = {
  ActivityChart,
  AttemptsTail,
  QueueCounts,
};

for (const element of document.querySelectorAll<HTMLElement>("[data-island]")) {
  const component = ISLANDS[element.dataset.island ?? ""];
  if (!component) continue;
  const props = JSON.parse(element.dataset.props ?? "{}");
  // deno-lint-ignore no-explicit-any
  hydrate(h(component as any, props), element);
}
