// Metrics: every metric name received, and the selected one as a chart over the shared time range
// (aggregated as its type means: rate or increase for counters, percentiles for histograms, last or
// average for gauges), grouped by an attribute; and web vitals across sessions, p75 per page.
import "./signals.css";
import { useEffect, useMemo, useState } from "preact/hooks";
import { type MetricSeries, type MetricSummary, type VitalFigure, type WebVitals, getApi } from "../api";
import { type ChartSeries, Legend, SERIES_COLOURS, TimeChart } from "../components/Chart";
import { Link } from "../components/Link";
import { SearchBar } from "../components/SearchBar";
import { TimeRange, useRange } from "../components/TimeRange";
import { replayHref, shortId } from "../components/telemetry";
import { useFetched } from "../fetched";
import { ago, bytes, dateTime, duration } from "../format";
import { useLive } from "../live";
import { navigate, rememberList, withParams } from "../router";

const BUCKETS = 60;

const AGG_LABELS: Record<string, string> = {
  sum: "increase per bucket",
  rate: "rate per second",
  last: "last value",
  avg: "average",
  min: "minimum",
  max: "maximum",
  count: "observations",
  p50: "p50 (median)",
  p75: "p75",
  p90: "p90",
  p95: "p95",
  p99: "p99",
};

/** A value in its unit: ms and s as durations, bytes as sizes, other numbers compact. */
export function formatValue(value: number, unit: string, agg?: string): string {
  if (!Number.isFinite(value)) return "–";
  if (agg === "count" || agg === "rate" || agg === "sum") return compact(value) + (agg === "rate" ? "/s" : "");
  if (unit === "ms") return duration(value);
  if (unit === "s") return duration(value * 1000);
  if (unit === "us") return duration(value / 1000);
  if (unit === "ns") return duration(value / 1e6);
  if (unit === "By") return bytes(Math.round(value));
  const text = compact(value);
  return unit && unit !== "1" && !unit.startsWith("{") ? `${text} ${unit}` : text;
}

function compact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(abs >= 1e10 ? 0 : 1)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
  if (abs >= 100 || Number.isInteger(value)) return String(Math.round(value));
  return value.toPrecision(3).replace(/\.?0+$/, "");
}

export function MetricsPage({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const view = params.get("view") === "vitals" ? "vitals" : "metrics";
  useEffect(() => rememberList("/metrics"), [params.toString()]);
  return (
    <section class="page signals metrics-page">
      <div class="toolbar">
        <SearchBar
          signal="metrics"
          query={query}
          error={null}
          placeholder="Search metrics: http.* service_name=api route=/checkout type=histogram"
        />
        <div class="segmented" role="group" aria-label="View">
          {(
            [
              ["metrics", "Metrics"],
              ["vitals", "Web vitals"],
            ] as const
          ).map(([key, label]) => (
            <button
              type="button"
              key={key}
              aria-pressed={view === key}
              class={view === key ? "on" : ""}
              onClick={() => navigate(withParams({ view: key === "metrics" ? null : key }))}
            >
              {label}
            </button>
          ))}
        </div>
        <TimeRange params={params} />
      </div>
      {view === "vitals" ? <VitalsView params={params} /> : <MetricsView params={params} />}
    </section>
  );
}

// ---------------------------------------------------------------- metrics and their charts

function MetricsView({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const range = useRange(params);
  const list = useFetched((signal) => getApi("/api/metrics", { query, ...range }, signal), [query, range], true);
  useLive(["metrics"], list.reload, 5000);
  const [filter, setFilter] = useState("");
  const items = list.data?.items ?? [];
  const shown = filter ? items.filter((m) => m.name.toLowerCase().includes(filter.toLowerCase())) : items;
  // a metric named in the URL is charted at once, its series fetched beside the list, not after it
  const chosen = params.get("metric") ?? items[0]?.name ?? null;
  const selected = items.find((m) => m.name === chosen) ?? null;
  if (list.error) return <p class="error-note">{list.error.message}</p>;
  if (list.data && !items.length) return <EmptyMetrics query={query} />;
  return (
    <div class="split metrics-split">
      <aside class="metric-list" aria-label="Metrics">
        {!list.data && <p class="muted">Loading…</p>}
        <input
          type="search"
          placeholder={`Filter ${items.length} metrics`}
          aria-label="Filter metrics"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
        <ol>
          {shown.map((m) => (
            <li key={m.name}>
              <Link
                href={withParams({ metric: m.name, agg: null, group: null })}
                class={`metric-row ${m.name === chosen ? "active" : ""}`}
                title={m.description || m.name}
              >
                <span class="metric-name">{m.name}</span>
                <small>
                  <span class={`type-tag t-${m.metric_type}`}>{typeLabel(m)}</span>
                  {m.unit && m.unit !== "1" ? ` ${m.unit}` : ""} · {m.points} pt{m.points === 1 ? "" : "s"} ·{" "}
                  {m.services.join(", ") || "–"}
                </small>
              </Link>
            </li>
          ))}
        </ol>
      </aside>
      {chosen && <MetricPanel key={chosen} name={chosen} metric={selected} params={params} />}
    </div>
  );
}

function typeLabel(m: MetricSummary): string {
  if (m.metric_type === "sum") return m.is_monotonic ? "counter" : m.temporality === 1 ? "delta sum" : "up-down counter";
  if (m.metric_type === "exponential_histogram") return "exp. histogram";
  return m.metric_type;
}

/** One metric's chart. `metric` (its summary, from the list) may come after the series: the series says
 * its own type, unit and aggregations, and the server picks the default aggregation. */
function MetricPanel({ name, metric, params }: { name: string; metric: MetricSummary | null; params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const range = useRange(params);
  const asked = params.get("agg");
  const group = params.get("group") ?? "";
  const fetched = useFetched(
    (signal) =>
      getApi("/api/metrics/series", { name, query, ...range, buckets: BUCKETS, agg: asked, group_by: group || null }, signal),
    [name, query, range, asked, group],
    true,
  );
  useLive(["metrics"], fetched.reload, 5000);
  const data = fetched.data;
  const agg = data?.agg ?? asked ?? metric?.aggregations[0] ?? "";
  const aggregations = data?.aggregations ?? metric?.aggregations ?? [];
  const unit = data?.unit ?? metric?.unit ?? "";
  const kind = data?.metric_type ?? metric?.metric_type ?? "";
  const lines = useMemo(() => (data ? chartLines(data) : []), [data]);
  const zoom = (startNs: number, endNs: number) =>
    navigate(
      withParams({
        range: null,
        start: new Date(Math.floor(startNs / 1e6)).toISOString(),
        end: new Date(Math.ceil(endNs / 1e6)).toISOString(),
      }),
    );
  const format = (v: number) => formatValue(v, unit, agg);
  return (
    <div class="metric-panel" aria-label={`Metric ${name}`}>
      <header class="metric-head">
        <div>
          <h2>{name}</h2>
          <div class="facts">
            {metric ? <span class={`type-tag t-${metric.metric_type}`}>{typeLabel(metric)}</span> : kind && <span class="type-tag">{kind}</span>}
            {unit && unit !== "1" && <span>unit {unit}</span>}
            {(data?.description || metric?.description) && <span>{data?.description || metric?.description}</span>}
            {metric && <span title={dateTime(metric.last_ns / 1e6)}>last point {ago(metric.last_ns / 1e6)}</span>}
          </div>
        </div>
        <div class="metric-controls">
          <label>
            Show
            <select value={agg} onChange={(e) => navigate(withParams({ agg: e.currentTarget.value }), true)}>
              {aggregations.map((a) => (
                <option key={a} value={a}>
                  {AGG_LABELS[a] ?? a}
                </option>
              ))}
            </select>
          </label>
          <label>
            Group by
            <select value={group} onChange={(e) => navigate(withParams({ group: e.currentTarget.value || null }), true)}>
              <option value="">nothing</option>
              {!metric && group && <option value={group}>{group}</option>}
              {(metric?.group_keys ?? []).map((key) => (
                <option key={key} value={key}>
                  {key}
                </option>
              ))}
            </select>
          </label>
        </div>
      </header>
      {fetched.error && <p class="error-note">{fetched.error.message}</p>}
      {!data ? (
        <p class="muted">Loading…</p>
      ) : data.points === 0 ? (
        <p class="empty">No points of {name} in this range.</p>
      ) : (
        <>
          <TimeChart
            startNs={data.start_ns}
            bucketNs={data.bucket_ns}
            series={lines}
            format={format}
            label={`${name}, ${AGG_LABELS[agg] ?? agg}, ${data.points} points`}
            onRange={zoom}
          />
          <Legend
            series={lines}
            other={data.other_groups ? `and ${data.other_groups} more group${data.other_groups === 1 ? "" : "s"} not drawn` : null}
          />
          <p class="muted small chart-note">
            {AGG_LABELS[agg] ?? agg} · buckets of {duration(data.bucket_ns / 1e6)} · {data.points} point
            {data.points === 1 ? "" : "s"}
            {agg.startsWith("p") && kind.endsWith("histogram") && " · interpolated within the histogram's buckets"}
          </p>
        </>
      )}
    </div>
  );
}

function chartLines(data: MetricSeries): ChartSeries[] {
  return data.series.map((line, i) => ({
    label: data.group_by ? (line.group ?? `(no ${data.group_by})`) : data.name,
    values: line.values,
    colour: SERIES_COLOURS[i % SERIES_COLOURS.length],
  }));
}

function EmptyMetrics({ query }: { query: string }) {
  if (query) return <p class="empty">No metric matches this search in this time range.</p>;
  return (
    <div class="empty">
      <p>No metrics in this time range.</p>
      <p>
        Send OpenTelemetry metrics to <code>{location.origin}/v1/metrics</code> (OTLP/HTTP) or over gRPC;{" "}
        <code>highlight.run</code> sends web vitals on its own, and the Highlight SDKs' <code>recordMetric</code>,{" "}
        <code>recordCount</code> and <code>recordHistogram</code> land here too.
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- web vitals

const VITALS = ["LCP", "INP", "CLS", "FCP", "TTFB"];
const VITAL_NAMES: Record<string, string> = {
  LCP: "Largest Contentful Paint",
  INP: "Interaction to Next Paint",
  CLS: "Cumulative Layout Shift",
  FCP: "First Contentful Paint",
  TTFB: "Time to First Byte",
};
// two decimals of a second: a 2.52 s LCP must not read "2.5 s" next to the 2.5 s threshold it failed
const vitalValue = (vital: string, value: number) =>
  vital === "CLS" ? value.toFixed(3) : value >= 1000 && value < 10_000 ? `${(value / 1000).toFixed(2)} s` : duration(value);

function VitalsView({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const range = useRange(params);
  const fetched = useFetched((signal) => getApi("/api/metrics/web-vitals", { query, ...range }, signal), [query, range], true);
  useLive(["metrics"], fetched.reload, 5000);
  const [picked, setPicked] = useState<{ vital: string; page: string | null } | null>(null);
  const data = fetched.data;
  if (fetched.error) return <p class="error-note">{fetched.error.message}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  if (!data.pages.length) {
    return (
      <div class="empty">
        <p>No web vitals in this time range.</p>
        <p>
          <code>highlight.run</code> reports LCP, INP, CLS, FCP and TTFB on its own once <code>otlpEndpoint</code> points
          here.
        </p>
      </div>
    );
  }
  return (
    <div class={`split ${picked ? "with-side" : ""}`}>
      <div class="split-main vitals">
        <Thresholds data={data} />
        <table class="vitals-table">
          <thead>
            <tr>
              <th>Page</th>
              <th class="num">Sessions</th>
              {VITALS.map((v) => (
                <th key={v} class="num" title={VITAL_NAMES[v]}>
                  {v} <small class="muted">p75</small>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <VitalsRow page={null} label="All pages" sessions={null} vitals={data.overall} onPick={setPicked} picked={picked} />
            {data.pages.map((p) => (
              <VitalsRow key={p.page} page={p.page} label={p.page || "(no page)"} sessions={p.sessions} vitals={p.vitals} onPick={setPicked} picked={picked} />
            ))}
          </tbody>
        </table>
      </div>
      {picked && <VitalSessionsPanel {...picked} query={query} range={range} onClose={() => setPicked(null)} />}
    </div>
  );
}

function Thresholds({ data }: { data: WebVitals }) {
  return (
    <p class="muted small thresholds">
      p75 of each session's last report per page, rated as web.dev does:{" "}
      {data.thresholds.map((t, i) => (
        <span key={t.name}>
          {i ? " · " : ""}
          {t.name} good ≤ {vitalValue(t.name, t.good)}, poor &gt; {vitalValue(t.name, t.poor)}
        </span>
      ))}
      . Click a figure for the sessions behind it.
    </p>
  );
}

function VitalsRow({ page, label, sessions, vitals, onPick, picked }: {
  page: string | null;
  label: string;
  sessions: number | null;
  vitals: Record<string, VitalFigure>;
  onPick: (p: { vital: string; page: string | null }) => void;
  picked: { vital: string; page: string | null } | null;
}) {
  return (
    <tr class={page === null ? "overall" : ""}>
      <th scope="row" class="page-cell" title={label}>
        {label}
      </th>
      <td class="num">{sessions ?? ""}</td>
      {VITALS.map((v) => {
        const figure = vitals[v];
        const active = picked?.vital === v && picked.page === page;
        return (
          <td key={v} class="num">
            {figure ? (
              <button
                type="button"
                class={`vital ${figure.rating} ${active ? "active" : ""}`}
                title={`${VITAL_NAMES[v]}: p75 of ${figure.samples} sample${figure.samples === 1 ? "" : "s"}, ${figure.rating}`}
                onClick={() => onPick({ vital: v, page })}
              >
                {vitalValue(v, figure.p75)}
                <small> ({figure.samples})</small>
              </button>
            ) : (
              <span class="muted">–</span>
            )}
          </td>
        );
      })}
    </tr>
  );
}

function VitalSessionsPanel({ vital, page, query, range, onClose }: {
  vital: string;
  page: string | null;
  query: string;
  range: { start?: number; end?: number };
  onClose: () => void;
}) {
  const fetched = useFetched(
    (signal) => getApi("/api/metrics/web-vitals/sessions", { vital, page, query, ...range }, signal),
    [vital, page, query, range],
  );
  return (
    <aside class="side" aria-label="Sessions behind the figure">
      <div class="side-head">
        <strong>
          {vital} {page ? `on ${page}` : "on every page"}
        </strong>
        <button type="button" class="close" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      <div class="side-body">
        {fetched.error && <p class="error-note">{fetched.error.message}</p>}
        {!fetched.data ? (
          <p class="muted">Loading…</p>
        ) : (
          <ol class="vital-sessions">
            {fetched.data.items.map((s) => (
              <li key={`${s.session_id}-${s.page}`}>
                <span class={`vital ${s.rating}`}>{vitalValue(vital, s.value)}</span>
                {s.offset_ms !== null ? (
                  <Link href={replayHref(s.session_id, Math.max(0, s.offset_ms), { tab: "info" })} title={`Session ${s.session_id}`}>
                    session {shortId(s.session_id)}
                  </Link>
                ) : (
                  <span class="muted" title={`Session ${s.session_id}: no replay was recorded`}>
                    session {shortId(s.session_id)} (no replay)
                  </span>
                )}
                {!page && <small class="muted page-cell">{s.page}</small>}
              </li>
            ))}
          </ol>
        )}
      </div>
    </aside>
  );
}
