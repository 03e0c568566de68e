/** `nodes`: lists the cluster's nodes from the shared database (live ones; `--all` for every row). */
import type { NodeStatusBody } from "../core/api/schemas.ts";
import { nodesOf } from "../core/cluster/mod.ts";
import { nodeDocument } from "../core/manage/api_documents.ts";
import { defineCommand } from "./_command.ts";
import { withCurrentStore } from "./_database.ts";

/** The `nodes` command. */
export const nodesCommand = defineCommand({
  name: "nodes",
  summary: "List the cluster's nodes",
  description:
    "Lists the cluster's live nodes (id, name, heartbeat, queue, units in flight, config version).",
  options: {
    json: { type: "boolean", description: "Print as JSON" },
    all: { type: "boolean", description: "Include nodes that are down or stopped" },
  },
  database: "current",
  run: ({ configPath, values }) => nodes(configPath, values),
});

function ago(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

/** Prints the nodes as a table or JSON; exit code 0. */
export async function nodes(
  configPath: string | null,
  options: { json: boolean; all: boolean },
): Promise<number> {
  return await withCurrentStore(configPath, async (store, config) => {
    const now = Date.now();
    // The same rows as `GET /api/v1/nodes` (core/api/schemas.ts).
    const list: NodeStatusBody[] = (await nodesOf(store, config))
      .filter((n) => options.all || n.live).map(nodeDocument);
    if (options.json) {
      console.log(JSON.stringify(list));
      return 0;
    }
    const rows = [[
      "ID",
      "NAME",
      "STATE",
      "HEARTBEAT",
      "HOST",
      "PID",
      "QUEUE",
      "IN FLIGHT",
      "CONFIG",
      "OBJECTS",
    ]];
    for (const n of list) {
      rows.push([
        n.id,
        n.name,
        n.stopped_at !== null ? "stopped" : n.live ? "live" : "down",
        `${ago(now - n.heartbeat_at)} ago`,
        n.hostname ?? "",
        String(n.pid ?? ""),
        n.details.queue ?? "",
        String(n.details.in_flight ?? ""),
        String(n.details.config_version ?? ""),
        String(n.details.objects_version ?? ""),
      ]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const row of rows) {
      console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
    }
    for (const n of list) {
      for (const problem of n.details.listener_errors ?? []) {
        console.log(`${n.id}: cannot listen on ${problem}`);
      }
    }
    return 0;
  });
}
