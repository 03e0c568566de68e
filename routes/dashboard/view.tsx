/**
 * Dashboard: live queue counts and charts (islands), the cluster's nodes with the config version
 * each has applied, and the latest delivery attempts.
 */
import type { VNode } from "preact";
import type { NodeStatusBody } from "../../core/api/schemas.ts";
import { ActivityChart } from "../../islands/activity_chart.tsx";
import { QueueCounts } from "../../islands/queue_counts.tsx";
import type { AttemptRow } from "../../core/store/mod.ts";
import { AttemptsTable } from "../_components/attempts_table.tsx";
import { formatTime } from "../_components/format.ts";
import { Island } from "../_components/island.tsx";
import { Layout } from "../_components/layout.tsx";
import { Table } from "../_components/table.tsx";

function NodesTable(props: { nodes: NodeStatusBody[]; configVersion: number | null }): VNode {
  if (props.nodes.length === 0) return <p class="text-gray-600">No node has reported yet.</p>;
  return (
    <Table
      head={["Node", "Status", "Config version applied", "Queue", "In flight", "Last heartbeat"]}
    >
      {props.nodes.map((n) => {
        const applied = n.details.objects_version;
        const behind = props.configVersion !== null && applied !== undefined &&
          applied < props.configVersion;
        return (
          <tr class="border-t" data-node={n.id}>
            <td class="p-2 font-semibold">{n.name}</td>
            <td class="p-2">
              {n.live
                ? <span class="text-green-800">live</span>
                : <span class="text-red-700">{n.stopped_at ? "stopped" : "not answering"}</span>}
            </td>
            <td class="p-2" data-applied={applied ?? ""}>
              {applied ?? "—"}
              {behind && <span class="text-yellow-800">(cluster at {props.configVersion})</span>}
            </td>
            <td class="p-2">{n.details.queue ?? "—"}</td>
            <td class="p-2">{n.details.in_flight ?? 0}</td>
            <td class="p-2 whitespace-nowrap">{formatTime(n.heartbeat_at)}</td>
          </tr>
        );
      })}
    </Table>
  );
}

/** A destination on the dashboard: open units by state, and whether a pause holds it. */
export interface Destination {
  domain: string;
  counts: { queued: number; deferred: number; paused: number; quarantined: number };
  paused: boolean;
}

function stateOf(d: Destination): string {
  if (d.paused) return "paused";
  if (d.counts.quarantined > 0) return "quarantined units";
  if (d.counts.paused > 0) return "held (backoff or limit)";
  if (d.counts.deferred > 0) return "deferring";
  return "flowing";
}

function DestinationsTable(props: { destinations: Destination[] }): VNode {
  if (props.destinations.length === 0) {
    return <p class="text-gray-600" data-empty="yes">Nothing is waiting for any destination.</p>;
  }
  return (
    <Table head={["Destination", "State", "Queued", "Deferred", "Held", "Quarantined"]}>
      {props.destinations.map((d) => (
        <tr class="border-t" data-destination={d.domain}>
          <td class="p-2">
            <a class="text-blue-700 underline" href={`/messages?domain=${d.domain}`}>{d.domain}</a>
          </td>
          <td class="p-2">{stateOf(d)}</td>
          <td class="p-2">{d.counts.queued}</td>
          <td class="p-2">{d.counts.deferred}</td>
          <td class="p-2">{d.counts.paused}</td>
          <td class="p-2">{d.counts.quarantined}</td>
        </tr>
      ))}
    </Table>
  );
}

/** The dashboard page. */
export function DashboardPage(
  props: {
    attempts: AttemptRow[];
    node: string;
    nodes: NodeStatusBody[];
    configVersion: number | null;
    destinations: Destination[];
  },
): VNode {
  return (
    <Layout title="Dashboard" head={<link rel="stylesheet" href="/static/uplot.css" />}>
      <h1 class="text-2xl font-bold mb-4">Queue on {props.node}</h1>
      <Island name="QueueCounts" props={{}}>
        <QueueCounts />
      </Island>
      <h2 class="text-xl font-bold mt-8 mb-2">The last hour</h2>
      <Island name="ActivityChart" props={{}}>
        <ActivityChart />
      </Island>
      <h2 class="text-xl font-bold mt-8 mb-2">Top destinations</h2>
      <DestinationsTable destinations={props.destinations} />
      <h2 class="text-xl font-bold mt-8 mb-2">
        Nodes{props.configVersion !== null && (
          <span class="text-base font-normal text-gray-600">
            &nbsp;(cluster config version {props.configVersion})
          </span>
        )}
      </h2>
      <NodesTable nodes={props.nodes} configVersion={props.configVersion} />
      <h2 class="text-xl font-bold mt-8 mb-2">Latest attempts</h2>
      <AttemptsTable attempts={props.attempts} />
    </Layout>
  );
}
