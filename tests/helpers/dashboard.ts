/** The metric names the Grafana dashboard in docs/ queries (every `expr` of every panel). */
const DASHBOARD = new URL("../../docs/grafana-dashboard.json", import.meta.url);

function exprs(node: unknown, into: string[]): string[] {
  if (Array.isArray(node)) { for (const item of node) exprs(item, into); }
  else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "expr" && typeof value === "string") into.push(value);
      else exprs(value, into);
    }
  }
  return into;
}

/** Every `fastmta_…` name in the dashboard's queries. */
export async function dashboardMetricNames(): Promise<Set<string>> {
  const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD));
  const names = new Set<string>();
  for (const expr of exprs(dashboard, [])) {
    for (const m of expr.matchAll(/\bfastmta_[a-z0-9_]+/g)) names.add(m[0]);
  }
  return names;
}
