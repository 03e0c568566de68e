/**
 * A small Prometheus registry that works across Web Workers: each thread bumps its own counters
 * (plain numbers in Maps: no allocation per bump once a label set exists), takes a delta of what
 * changed since the last take, and posts it to the main thread about once a second; the main
 * thread merges every delta into its registry and renders the text exposition format.
 *
 * Hand-written rather than npm `prom-client`: prom-client's histograms cannot take bucket counts
 * merged from another thread (only single observations), and its cluster aggregator speaks
 * Node's `cluster` IPC, not Web Workers. What is needed here is ~200 lines.
 */

/** A metric's kind, as in the exposition format. */
export type MetricKind = "counter" | "gauge" | "histogram";

/** What a metric is; the catalog (catalog.ts) lists every one. */
export interface MetricSpec {
  name: string;
  kind: MetricKind;
  help: string;
  labels: readonly string[];
  /** Histograms: upper bounds of the buckets, ascending (+Inf is implied). */
  buckets?: readonly number[];
}

/** One label set's histogram state. */
interface HistogramCell {
  counts: number[];
  sum: number;
  count: number;
}

/** What changed in one thread since its last {@link Registry.takeDelta} (structured-cloneable). */
export interface MetricsDelta {
  /** metric name → label key → increment (counters) or value (gauges). */
  values: Record<string, Record<string, number>>;
  /** metric name → label key → bucket increments, sum and count. */
  histograms: Record<string, Record<string, HistogramCell>>;
}

/** The key of a label set: its values joined in the spec's order (\u0001 never appears). */
function keyOf(spec: MetricSpec, labels: Record<string, string | number | null | undefined>) {
  if (spec.labels.length === 0) return "";
  let key = "";
  for (let i = 0; i < spec.labels.length; i++) {
    if (i > 0) key += "\u0001";
    key += String(labels[spec.labels[i]] ?? "");
  }
  return key;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(names: readonly string[], key: string, extra = ""): string {
  const values = names.length === 0 ? [] : key.split("\u0001");
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function numberText(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return Number.isNaN(n) ? "NaN" : String(n);
}

type Labels = Record<string, string | number | null | undefined>;

/** Counters, gauges and histograms of one thread (or, on the main thread, of all of them). */
export class Registry {
  #specs = new Map<string, MetricSpec>();
  #values = new Map<string, Map<string, number>>();
  #histograms = new Map<string, Map<string, HistogramCell>>();
  /** Changes since the last delta (workers post it; bounded by the label sets in use). */
  #dirtyValues = new Map<string, Map<string, number>>();
  #dirtyHistograms = new Map<string, Map<string, HistogramCell>>();
  #collectors: (() => void | Promise<void>)[] = [];

  constructor(specs: readonly MetricSpec[]) {
    for (const spec of specs) {
      this.#specs.set(spec.name, spec);
      if (spec.kind === "histogram") this.#histograms.set(spec.name, new Map());
      else this.#values.set(spec.name, new Map());
    }
  }

  #spec(name: string, kind: MetricKind): MetricSpec {
    const spec = this.#specs.get(name);
    if (!spec || spec.kind !== kind) throw new Error(`metrics: no ${kind} named ${name}`);
    return spec;
  }

  /** Adds `by` (default 1) to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    const spec = this.#spec(name, "counter");
    const key = keyOf(spec, labels);
    const cells = this.#values.get(name)!;
    cells.set(key, (cells.get(key) ?? 0) + by);
    let dirty = this.#dirtyValues.get(name);
    if (!dirty) this.#dirtyValues.set(name, dirty = new Map());
    dirty.set(key, (dirty.get(key) ?? 0) + by);
  }

  /** Sets a gauge. */
  set(name: string, labels: Labels, value: number): void {
    const spec = this.#spec(name, "gauge");
    const key = keyOf(spec, labels);
    this.#values.get(name)!.set(key, value);
    let dirty = this.#dirtyValues.get(name);
    if (!dirty) this.#dirtyValues.set(name, dirty = new Map());
    dirty.set(key, value);
  }

  /** Replaces every value of a gauge (e.g. queue depth by state, read at scrape time). */
  replaceGauge(name: string, values: { labels: Labels; value: number }[]): void {
    const spec = this.#spec(name, "gauge");
    const cells = new Map<string, number>();
    for (const v of values) cells.set(keyOf(spec, v.labels), v.value);
    this.#values.set(name, cells);
  }

  /** Records one observation in a histogram. */
  observe(name: string, labels: Labels, value: number): void {
    const spec = this.#spec(name, "histogram");
    const key = keyOf(spec, labels);
    const buckets = spec.buckets!;
    for (const map of [this.#histograms.get(name)!, this.#dirtyHistogramsOf(name)]) {
      let cell = map.get(key);
      if (!cell) map.set(key, cell = { counts: buckets.map(() => 0), sum: 0, count: 0 });
      for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) cell.counts[i]++;
      cell.sum += value;
      cell.count++;
    }
  }

  #dirtyHistogramsOf(name: string): Map<string, HistogramCell> {
    let dirty = this.#dirtyHistograms.get(name);
    if (!dirty) this.#dirtyHistograms.set(name, dirty = new Map());
    return dirty;
  }

  /** What changed since the last call, or null when nothing did (workers post it). */
  takeDelta(): MetricsDelta | null {
    if (this.#dirtyValues.size === 0 && this.#dirtyHistograms.size === 0) return null;
    const delta: MetricsDelta = { values: {}, histograms: {} };
    for (const [name, cells] of this.#dirtyValues) delta.values[name] = Object.fromEntries(cells);
    for (const [name, cells] of this.#dirtyHistograms) {
      delta.histograms[name] = Object.fromEntries(cells);
    }
    this.#dirtyValues = new Map();
    this.#dirtyHistograms = new Map();
    return delta;
  }

  /** Merges a worker's delta: counters and histograms add up, gauges take the value. */
  merge(delta: MetricsDelta): void {
    for (const [name, cells] of Object.entries(delta.values)) {
      const spec = this.#specs.get(name);
      const mine = this.#values.get(name);
      if (!spec || !mine) continue; // a metric this build does not know
      for (const [key, value] of Object.entries(cells)) {
        mine.set(key, spec.kind === "counter" ? (mine.get(key) ?? 0) + value : value);
      }
    }
    for (const [name, cells] of Object.entries(delta.histograms)) {
      const mine = this.#histograms.get(name);
      if (!mine) continue;
      for (const [key, cell] of Object.entries(cells)) {
        const into = mine.get(key);
        if (!into) {
          mine.set(key, { counts: [...cell.counts], sum: cell.sum, count: cell.count });
          continue;
        }
        for (let i = 0; i < into.counts.length; i++) into.counts[i] += cell.counts[i] ?? 0;
        into.sum += cell.sum;
        into.count += cell.count;
      }
    }
  }

  /** Runs before each render (gauges read at scrape time: queue depth, memory). */
  onCollect(collector: () => void | Promise<void>): void {
    this.#collectors.push(collector);
  }

  /** The value of one counter or gauge label set (tests, health). */
  value(name: string, labels: Labels = {}): number {
    const spec = this.#specs.get(name);
    return spec ? this.#values.get(name)?.get(keyOf(spec, labels)) ?? 0 : 0;
  }

  /** Every metric in the Prometheus text exposition format (version 0.0.4). */
  async render(): Promise<string> {
    await Promise.all(this.#collectors.map(async (collect) => {
      try {
        await collect();
      } catch { /* a collector that fails leaves its gauges as they were */ }
    }));
    const lines: string[] = [];
    for (const spec of this.#specs.values()) {
      lines.push(`# HELP ${spec.name} ${spec.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      lines.push(`# TYPE ${spec.name} ${spec.kind}`);
      if (spec.kind === "histogram") {
        for (const [key, cell] of this.#histograms.get(spec.name)!) {
          const buckets = spec.buckets!;
          for (let i = 0; i < buckets.length; i++) {
            const le = `le="${numberText(buckets[i])}"`;
            lines.push(`${spec.name}_bucket${labelText(spec.labels, key, le)} ${cell.counts[i]}`);
          }
          lines.push(
            `${spec.name}_bucket${labelText(spec.labels, key, 'le="+Inf"')} ${cell.count}`,
          );
          lines.push(`${spec.name}_sum${labelText(spec.labels, key)} ${numberText(cell.sum)}`);
          lines.push(`${spec.name}_count${labelText(spec.labels, key)} ${cell.count}`);
        }
      } else {
        const cells = this.#values.get(spec.name)!;
        // A metric without labels always shows (0 until bumped), so dashboards see it at once.
        if (spec.labels.length === 0 && cells.size === 0) lines.push(`${spec.name} 0`);
        for (const [key, value] of cells) {
          lines.push(`${spec.name}${labelText(spec.labels, key)} ${numberText(value)}`);
        }
      }
    }
    return lines.join("\n") + "\n";
  }
}
