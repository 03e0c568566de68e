/**
 * The metrics registry: worker deltas add up on the main thread (counters and histograms),
 * gauges take the last value, label values are escaped, and the exposition is what promtool
 * reads (checked against the real promtool in tests/metrics_prometheus.e2e_test.ts).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { METRICS, outcomeLabel, Registry, replyClass } from "../core/metrics/mod.ts";

const SPECS = [
  { name: "t_sent_total", kind: "counter", help: "Sent.", labels: ["pool"] },
  { name: "t_depth", kind: "gauge", help: "Depth.", labels: [] },
  { name: "t_seconds", kind: "histogram", help: "Time.", labels: [], buckets: [0.1, 1] },
] as const;

Deno.test("registry: deltas of two workers add up on the main thread; gauges take the last", async () => {
  const main = new Registry(SPECS);
  const a = new Registry(SPECS);
  const b = new Registry(SPECS);
  a.inc("t_sent_total", { pool: "bulk" });
  a.inc("t_sent_total", { pool: "bulk" }, 2);
  b.inc("t_sent_total", { pool: "bulk" });
  b.inc("t_sent_total", { pool: 'we"ird\\' });
  a.observe("t_seconds", {}, 0.05);
  b.observe("t_seconds", {}, 0.5);
  b.observe("t_seconds", {}, 5);
  a.set("t_depth", {}, 7);
  main.merge(a.takeDelta()!);
  main.merge(b.takeDelta()!);
  assertEquals(a.takeDelta(), null, "nothing changed since the last delta");
  a.inc("t_sent_total", { pool: "bulk" });
  a.set("t_depth", {}, 3);
  main.merge(a.takeDelta()!);
  assertEquals(main.value("t_sent_total", { pool: "bulk" }), 5);
  assertEquals(main.value("t_depth"), 3);
  const text = await main.render();
  assertMatch(text, /^# TYPE t_sent_total counter$/m);
  assertMatch(text, /^t_sent_total\{pool="bulk"\} 5$/m);
  assertMatch(text, /^t_sent_total\{pool="we\\"ird\\\\"\} 1$/m);
  assertMatch(text, /^t_seconds_bucket\{le="0.1"\} 1$/m);
  assertMatch(text, /^t_seconds_bucket\{le="1"\} 2$/m);
  assertMatch(text, /^t_seconds_bucket\{le="\+Inf"\} 3$/m);
  assertMatch(text, /^t_seconds_count 3$/m);
  assertMatch(text, /^t_seconds_sum 5.55$/m);
});

Deno.test("registry: a metric that is not in the catalog is refused by name", () => {
  const r = new Registry(SPECS);
  let error: Error | null = null;
  try {
    r.inc("t_nope_total");
  } catch (e) {
    error = e as Error;
  }
  assertMatch(error?.message ?? "", /no counter named t_nope_total/);
});

Deno.test("catalog: names are unique, counters end in _total, labels are snake_case", () => {
  const names = METRICS.map((m) => m.name);
  assertEquals(new Set(names).size, names.length);
  for (const m of METRICS) {
    assertMatch(m.name, /^fastmta_[a-z0-9_]+$/);
    assertEquals(m.kind === "counter", m.name.endsWith("_total"), m.name);
    for (const label of m.labels) assertMatch(label, /^[a-z][a-z0-9_]*$/);
    if (m.kind === "histogram") assert(m.buckets && m.buckets.length > 0, m.name);
  }
});

Deno.test("labels: a failure with a 5xx is a bounce; reply classes", () => {
  assertEquals(outcomeLabel({ outcome: "failed", code: 550 }), "bounced");
  assertEquals(outcomeLabel({ outcome: "failed", code: null }), "failed");
  assertEquals(outcomeLabel({ outcome: "deferred", code: 451 }), "deferred");
  assertEquals(replyClass(250), "2xx");
  assertEquals(replyClass(null), "none");
});
