/**
 * Island: the dashboard's live charts (uPlot, bundled from npm into static/islands.js). The
 * server renders it loading (the page does not wait for the hour's series); in the browser it
 * fetches them and draws three charts — messages per
 * minute by outcome, queue depth (sampled at each refresh), delivery latency p50/p99 — and
 * refreshes them from `/api/v1/activity` every few seconds. Only classes the server markup
 * already uses are styled (Twind runs on the server), so the charts style themselves inline.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { usePolledJson } from "./poll.ts";
import type { VNode } from "preact";
import uPlot from "uplot";
import type { ActivityBody } from "../core/api/activity.ts";

const SERIES = [
  { key: "accepted", label: "Accepted", stroke: "#1d4ed8" },
  { key: "delivered", label: "Delivered", stroke: "#15803d" },
  { key: "deferred", label: "Deferred", stroke: "#b45309" },
  { key: "bounced", label: "Bounced", stroke: "#b91c1c" },
] as const;

type Key = typeof SERIES[number]["key"];

function totals(body: ActivityBody): Record<Key, number> {
  const sum = { accepted: 0, delivered: 0, deferred: 0, bounced: 0 };
  for (const m of body.minutes) for (const s of SERIES) sum[s.key] += m[s.key];
  return sum;
}

/** The chart's width: its figure's (a grid cell that shrinks with the page), not its own. */
/** Axis times in UTC, as every time the console shows. */
const utc = (ts: number) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

function width(element: HTMLElement | null): number {
  return Math.max(200, (element?.parentElement?.clientWidth ?? 600) - 16);
}

/** The three charts and the hour's totals, kept fresh. */
export function ActivityChart(props: { initial?: ActivityBody; refreshMs?: number }): VNode {
  const [body, setBody] = useState<ActivityBody | null>(props.initial ?? null);
  const rates = useRef<HTMLDivElement>(null);
  const depth = useRef<HTMLDivElement>(null);
  const latency = useRef<HTMLDivElement>(null);
  const charts = useRef<{ rates?: uPlot; depth?: uPlot; latency?: uPlot }>({});
  const depthSeries = useRef<[number[], number[]]>([[], []]);
  const { live, problem } = usePolledJson<ActivityBody>(
    "/api/v1/activity",
    props.refreshMs ?? 3000,
    setBody,
  );

  useEffect(() => {
    const onResize = () => {
      for (const [name, chart] of Object.entries(charts.current)) {
        const element = { rates, depth, latency }[name as "rates"]?.current ?? null;
        chart?.setSize({ width: width(element), height: 180 });
      }
    };
    addEventListener("resize", onResize);
    return () => {
      removeEventListener("resize", onResize);
      for (const chart of Object.values(charts.current)) chart?.destroy();
    };
  }, []);

  useEffect(() => {
    if (!body) return;
    const x = body.minutes.map((m) => m.minute / 1000);
    const [dx, dy] = depthSeries.current;
    dx.push(body.at / 1000);
    dy.push(body.queue.queued + body.queue.deferred);
    if (dx.length > 1200) (dx.shift(), dy.shift());
    const rateData: uPlot.AlignedData = [
      x,
      ...SERIES.map((s) => body.minutes.map((m) => m[s.key])),
    ];
    const latencyData: uPlot.AlignedData = [
      x,
      body.minutes.map((m) => m.latency_p50),
      body.minutes.map((m) => m.latency_p99),
    ];
    const c = charts.current;
    if (!c.rates && rates.current) {
      c.rates = new uPlot(
        {
          width: width(rates.current),
          height: 180,
          tzDate: utc,
          series: [{}, ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }))],
          axes: [{}, { label: "per minute" }],
        },
        rateData,
        rates.current,
      );
      c.depth = new uPlot(
        {
          width: width(depth.current),
          height: 180,
          tzDate: utc,
          series: [{}, { label: "Queued + deferred", stroke: "#7c3aed", width: 2 }],
        },
        [dx, dy],
        depth.current!,
      );
      c.latency = new uPlot(
        {
          width: width(latency.current),
          height: 180,
          tzDate: utc,
          series: [{}, { label: "p50 ms", stroke: "#0e7490", width: 2 }, {
            label: "p99 ms",
            stroke: "#be185d",
            width: 2,
          }],
        },
        latencyData,
        latency.current!,
      );
    } else {
      c.rates?.setData(rateData);
      c.depth?.setData([dx, dy]);
      c.latency?.setData(latencyData);
    }
  }, [body]);

  const sum = body ? totals(body) : null;
  return (
    <div>
      <div class="grid grid-cols-2 sm:grid-cols-4 gap-3">
        {SERIES.map((s) => (
          <div class="bg-white shadow rounded p-3">
            <div class="text-sm text-gray-600">{s.label}, last hour</div>
            <div class="text-2xl font-bold" data-total={s.key}>{sum ? sum[s.key] : "…"}</div>
          </div>
        ))}
      </div>
      <div class="grid gap-4 lg:grid-cols-3 mt-4">
        <figure class="bg-white shadow rounded p-2 min-w-0 overflow-hidden">
          <figcaption class="text-sm font-semibold text-gray-700">
            Messages per minute (UTC)
          </figcaption>
          <div ref={rates} data-chart="rates" />
        </figure>
        <figure class="bg-white shadow rounded p-2 min-w-0 overflow-hidden">
          <figcaption class="text-sm font-semibold text-gray-700">Queue depth</figcaption>
          <div ref={depth} data-chart="depth" />
        </figure>
        <figure class="bg-white shadow rounded p-2 min-w-0 overflow-hidden">
          <figcaption class="text-sm font-semibold text-gray-700">Delivery latency</figcaption>
          <div ref={latency} data-chart="latency" />
        </figure>
      </div>
      <p
        class="text-xs text-gray-600 mt-2"
        role="status"
        data-chart-live={live ? "yes" : problem ? "error" : "loading"}
      >
        {live
          ? "Live, refreshed every 3 s"
          : problem
          ? `Cannot load the charts: ${problem}; retrying`
          : "Loading the last hour…"}
      </p>
    </div>
  );
}
