/** Dashboard: live queue counts (an island) and the latest delivery attempts. */
import type { VNode } from "preact";
import { QueueCounts } from "../../islands/queue_counts.tsx";
import type { AttemptRow, QueueCounts as Counts } from "../../core/store/mod.ts";
import { AttemptsTable } from "../_components/attempts_table.tsx";
import { Island } from "../_components/island.tsx";
import { Layout } from "../_components/layout.tsx";

/** The dashboard page. */
export function DashboardPage(
  props: { counts: Counts; attempts: AttemptRow[]; node: string },
): VNode {
  return (
    <Layout title="Dashboard">
      <h1 class="text-2xl font-bold mb-4">Queue on {props.node}</h1>
      <Island name="QueueCounts" props={{ initial: props.counts }}>
        <QueueCounts initial={props.counts} />
      </Island>
      <h2 class="text-xl font-bold mt-8 mb-2">Latest attempts</h2>
      <AttemptsTable attempts={props.attempts} />
    </Layout>
  );
}
