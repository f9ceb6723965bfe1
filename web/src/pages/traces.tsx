// Traces: a searchable list of traces (newest or longest first, with a duration scatter), and one trace
// as a waterfall (spans nested by parent, bars by start and duration, coloured by service) under a
// minimap that zooms it, with the selected span's attributes, events and links, the trace's logs and
// errors, and the session that caused it. The waterfall is one flat, virtualised list of rows, so a
// 10,000-span trace renders only the rows in view.
import "./signals.css";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Span, type Trace, type TraceError, type TraceRow, getApi } from "../api";
import { ExportLinks } from "../components/ExportLinks";
import { Link } from "../components/Link";
import { ListStatus, ListToolbar } from "../components/ListPage";
import { Tabs } from "../components/Tabs";
import { VirtualList } from "../components/VirtualList";
import { useFetched } from "../fetched";
import { ago, dateTime, duration, timeOfDay } from "../format";
import { useLive } from "../live";
import { usePaged } from "../paging";
import { backTo, carried, navigate, withParams } from "../router";
import { isTyping } from "../components/Shortcuts";
import {
  Attributes,
  Frames,
  LogRows,
  ServiceDot,
  SessionLink,
  addFilter,
  colourOf,
  shortId,
  traceHref,
} from "../components/telemetry";
import { useRange } from "../components/TimeRange";
import { DurationScatter, Minimap, type Window, windowTicks } from "./trace-views";

const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
// The list's order (`sort` in the URL): newest first, longest first, or traces with errors first (a
// test run's failing tests, as `hl-local run` links them).
const ORDERS = [
  ["start", "Newest"],
  ["duration", "Longest"],
  ["errors", "Errors first"],
] as const;
type Order = (typeof ORDERS)[number][0];
const STATUS_ERROR = 2;
const nsDuration = (ns: number) => duration(ns / 1e6);

// ---------------------------------------------------------------- the trace list

const TRACE_ID = /^[0-9a-f]{32}$/i;

export function TracesPage({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const sort: Order = ORDERS.find(([key]) => key === params.get("sort"))?.[0] ?? "start";
  const range = useRange(params);
  const list = usePaged("/api/traces", { query, sort: sort === "start" ? null : sort, ...range }, (t) => t.trace_id, 200);
  useLive(["traces"], () => sort === "start" && list.refresh(), 2000);
  const longest = Math.max(1, ...list.items.map((t) => t.duration_ns));
  // a trace id pasted or typed in the search box opens that trace
  const openTraceId = (text: string) => {
    const id = text.replace(/^trace_id\s*[=:]\s*/, "").trim();
    if (!TRACE_ID.test(id)) return false;
    navigate(`/traces/${id.toLowerCase()}`);
    return true;
  };
  return (
    <section class="page signals">
      <ListToolbar
        signal="traces"
        params={params}
        query={query}
        list={list}
        placeholder="Search traces: duration>500ms has_errors=true service_name=api span_name=… (or paste a trace id)"
        onSearch={openTraceId}
      >
        <div class="segmented" role="group" aria-label="Order">
          {ORDERS.map(([key, label]) => (
            <button
              type="button"
              key={key}
              aria-pressed={sort === key}
              class={sort === key ? "on" : ""}
              onClick={() => navigate(withParams({ sort: key === "start" ? null : key }))}
            >
              {label}
            </button>
          ))}
        </div>
      </ListToolbar>
      {list.items.length > 1 && <DurationScatter traces={list.items} />}
      <div class="list-head trace-row" aria-hidden="true">
        <span>Started</span>
        <span>Root span</span>
        <span>Duration</span>
        <span class="num">Spans</span>
        <span />
      </div>
      {list.items.length === 0 && !list.loading ? (
        // a failed search has no results to speak of: its error says why
        !list.error && <EmptyTraces query={query} />
      ) : (
        <VirtualList
          label="Traces"
          items={list.items}
          rowHeight={44}
          onEnd={list.more}
          row={(trace) => <TraceLine trace={trace} longest={longest} />}
        />
      )}
      <ListStatus list={list} noun="trace" />
    </section>
  );
}

function TraceLine({ trace, longest }: { trace: TraceRow; longest: number }) {
  const started = trace.start_ns / 1e6;
  // log scale from 10 µs, so 200 µs and 20 ms look different and one slow trace flattens nothing
  const floor = 1e4;
  const share = Math.log(Math.max(trace.duration_ns, floor) / floor) / Math.log(Math.max(longest, floor * 10) / floor);
  return (
    <Link href={carried(`/traces/${encodeURIComponent(trace.trace_id)}`)} class="trace-row row-link">
      <span class="at" title={dateTime(started)}>
        {timeOfDay(started)}
        <small class="muted">{ago(started)}</small>
      </span>
      <span class="title-cell">
        <span class="title">{trace.root_span_name || "(root span missing)"}</span>
        <small>
          <ServiceDot service={trace.service_name} /> {trace.service_name || "–"} · {shortId(trace.trace_id)}
        </small>
      </span>
      <span class="dur-cell">
        <span class="mono">{nsDuration(trace.duration_ns)}</span>
        <span class="dur-track">
          <span class="dur-bar" style={{ width: `${Math.max(2, share * 100)}%` }} />
        </span>
      </span>
      <span class="num">{trace.span_count}</span>
      <span class="marks">
        {trace.has_errors && <span class="state-tag error">error</span>}
        {trace.session_id && <span class="mark">session</span>}
      </span>
    </Link>
  );
}

function EmptyTraces({ query }: { query: string }) {
  if (query) return <p class="empty">No trace matches this search in this time range.</p>;
  return (
    <div class="empty">
      <p>No traces in this time range.</p>
      <p>
        Send OpenTelemetry traces to <code>{location.origin}/v1/traces</code> (OTLP/HTTP) or to port 4317 (gRPC), or use a
        Highlight backend SDK.
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- one trace

interface Node {
  span: Span;
  depth: number;
  size: number; // descendants, so a collapsed node skips them in one step
}

/** Spans in depth-first order (children by start time), iteratively: a deep trace must not overflow
 * the stack. Spans whose parent is missing start their own tree; a cycle cannot repeat a span. */
function flatten(spans: Span[]): Node[] {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const span of spans) {
    const parent = span.parent_span_id;
    if (parent && parent !== span.span_id && ids.has(parent)) {
      const list = children.get(parent);
      if (list) list.push(span);
      else children.set(parent, [span]);
    } else {
      roots.push(span);
    }
  }
  const out: Node[] = [];
  const placed = new Set<string>();
  const walk = (root: Span) => {
    const stack: [Span, number][] = [[root, 0]];
    const parents: number[] = [];
    while (stack.length) {
      const [span, depth] = stack.pop()!;
      if (placed.has(span.span_id)) continue;
      placed.add(span.span_id);
      // close the subtrees that end here
      while (parents.length > depth) {
        const p = parents.pop()!;
        out[p].size = out.length - p - 1;
      }
      parents.push(out.length);
      out.push({ span, depth, size: 0 });
      const kids = children.get(span.span_id) ?? [];
      for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1]);
    }
    while (parents.length) {
      const p = parents.pop()!;
      out[p].size = out.length - p - 1;
    }
  };
  for (const root of roots) walk(root);
  for (const span of spans) if (!placed.has(span.span_id)) walk(span); // cycles: show them anyway
  return out;
}

export function TracePage({ traceId, params }: { traceId: string; params: URLSearchParams }) {
  const fetched = useFetched((signal) => getApi("/api/traces/{trace_id}", { trace_id: traceId }, signal), [traceId]);
  const { data: trace, error: failure } = fetched;
  // A trace still arriving (or not yet arrived) fills in live; an old or huge one is not refetched.
  useLive(
    ["traces", "logs", "errors"],
    () => {
      const young = !trace || Date.now() - trace.start_ns / 1e6 < 5 * 60e3;
      if (young && (!trace || trace.spans.length < 2000)) fetched.reload();
    },
    3000,
  );

  if (failure) {
    return (
      <section class="page signals">
        <BackToTraces />
        <p class="error-note">
          {failure.status === 404 ? `There is no trace ${traceId} (yet: spans can arrive late).` : failure.message}
        </p>
      </section>
    );
  }
  if (!trace) return <section class="page signals"><p class="muted">Loading…</p></section>;
  return <TraceView trace={trace} params={params} />;
}

function BackToTraces() {
  return (
    <Link href={backTo("/traces")} class="back">
      ← Traces
    </Link>
  );
}

type Tab = "span" | "logs" | "errors";

function TraceView({ trace, params }: { trace: Trace; params: URLSearchParams }) {
  const nodes = useMemo(() => flatten(trace.spans), [trace]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const [filter, setFilter] = useState("");
  const [tab, setTab] = useState<Tab>("span");
  const [win, setWin] = useState<Window>({ from: 0, to: 1 }); // the part of the trace the lanes show
  const spanParam = params.get("span");
  const selectedId = spanParam && trace.spans.some((s) => s.span_id === spanParam) ? spanParam : nodes[0]?.span.span_id;
  const errorSpans = useMemo(() => new Set(trace.errors.map((e) => e.span_id).filter(Boolean)), [trace]);

  // what is shown: the tree minus collapsed subtrees, or, with a filter, the matching spans
  const rows = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (needle) {
      return nodes.filter(
        (n) => n.span.name.toLowerCase().includes(needle) || (n.span.service_name ?? "").toLowerCase().includes(needle),
      );
    }
    if (!collapsed.size) return nodes;
    const out: Node[] = [];
    for (let i = 0; i < nodes.length; i++) {
      out.push(nodes[i]);
      if (collapsed.has(nodes[i].span.span_id)) i += nodes[i].size;
    }
    return out;
  }, [nodes, collapsed, filter]);

  const selectedIndex = rows.findIndex((n) => n.span.span_id === selectedId);
  const selected = trace.spans.find((s) => s.span_id === selectedId) ?? null;
  const select = (spanId: string, show: Tab = "span") => {
    setTab(show);
    navigate(withParams({ span: spanId }), true);
  };
  const toggle = (spanId: string) => {
    const next = new Set(collapsed);
    if (next.has(spanId)) next.delete(spanId);
    else next.add(spanId);
    setCollapsed(next);
  };
  const zoomAround = (factor: number) => {
    // around the selected span's middle, so + keeps it in view
    const span = selected ?? trace.spans[0];
    const total = Math.max(1, trace.duration_ns);
    const middle = span ? (span.start_ns - trace.start_ns + span.duration_ns / 2) / total : 0.5;
    const width = Math.min(1, Math.max(1e-4, (win.to - win.from) * factor));
    const from = Math.min(1 - width, Math.max(0, middle - width / 2));
    setWin(width >= 1 ? { from: 0, to: 1 } : { from, to: from + width });
  };
  // The keys work from anywhere on the page (no row needs the focus first), except in a text field.
  const onKey = (e: KeyboardEvent) => {
    if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
    const node = rows[selectedIndex];
    if (e.key === "ArrowDown" || e.key === "ArrowUp" || e.key === "j" || e.key === "k") {
      e.preventDefault();
      const step = e.key === "ArrowDown" || e.key === "j" ? 1 : -1;
      const next = rows[Math.min(rows.length - 1, Math.max(0, (selectedIndex < 0 ? -1 : selectedIndex) + step))];
      if (next) select(next.span.span_id, tab);
    } else if (node && (e.key === "ArrowLeft" || e.key === "ArrowRight") && node.size > 0 && !filter) {
      e.preventDefault();
      if (collapsed.has(node.span.span_id) === (e.key === "ArrowRight")) toggle(node.span.span_id);
    } else if (e.key === "+" || e.key === "=") {
      zoomAround(0.5);
    } else if (e.key === "-" || e.key === "_") {
      zoomAround(2);
    } else if (e.key === "0") {
      setWin({ from: 0, to: 1 });
    }
  };
  const keys = useRef(onKey);
  keys.current = onKey;
  useEffect(() => {
    const listener = (e: KeyboardEvent) => keys.current(e);
    window.addEventListener("keydown", listener);
    return () => window.removeEventListener("keydown", listener);
  }, []);

  const root = nodes[0]?.span;
  const services = new Set(trace.spans.map((s) => s.service_name || "")).size;
  const failed = trace.spans.filter((s) => s.status_code === STATUS_ERROR).length;
  return (
    <section class="page signals trace-page">
      <BackToTraces />
      <header class="group-head">
        <div class="group-title">
          <h1>
            {root?.name ?? trace.trace_id} <span class="muted small mono">{trace.trace_id}</span>
          </h1>
          <div class="facts">
            <span>
              <ServiceDot service={root?.service_name} /> {root?.service_name || "–"}
            </span>
            <span title={dateTime(trace.start_ns / 1e6)}>
              {dateTime(trace.start_ns / 1e6)} ({ago(trace.start_ns / 1e6)})
            </span>
            <span>
              <strong>{nsDuration(trace.duration_ns)}</strong>
            </span>
            <span>
              {trace.spans.length} span{trace.spans.length === 1 ? "" : "s"}, {services} service{services === 1 ? "" : "s"}
            </span>
            {failed > 0 && <span class="bad">{failed} failed</span>}
            <span class="links">
              <SessionLink
                sessionId={trace.session_id}
                atNs={trace.start_ns}
                target={{ tab: "network", trace: trace.trace_id }}
              />
              <Link href={`/logs?query=${encodeURIComponent(`trace_id=${trace.trace_id}`)}`}>Logs</Link>
            </span>
            <ExportLinks trace={trace.trace_id} formats={["html", "duckdb", "otlp-json"]} />
          </div>
        </div>
      </header>
      <div class="split with-side trace-split">
        <div class={`split-main waterfall ${win.from > 0 || win.to < 1 ? "zoomed" : ""}`}>
          <Minimap nodes={nodes} trace={trace} win={win} onWindow={setWin} selectedId={selectedId ?? null} />
          <div class="wf-tools">
            <input
              type="search"
              placeholder="Filter spans by name or service"
              aria-label="Filter spans"
              value={filter}
              onInput={(e) => setFilter(e.currentTarget.value)}
            />
            {!filter && nodes.some((n) => n.size > 0) && (
              <>
                <button type="button" onClick={() => setCollapsed(new Set(nodes.filter((n) => n.depth > 0 && n.size > 0).map((n) => n.span.span_id)))}
                  title="Show the root's children only">
                  Collapse all
                </button>
                <button type="button" onClick={() => setCollapsed(new Set())} disabled={!collapsed.size}>
                  Expand all
                </button>
              </>
            )}
            {(win.from > 0 || win.to < 1) && (
              <button type="button" onClick={() => setWin({ from: 0, to: 1 })} title="Show the whole trace (0)">
                Zoom out
              </button>
            )}
            <span class="muted small">
              {filter ? `${rows.length} of ${nodes.length} spans match` : "↑↓ select · ←→ fold · + − 0 zoom"}
            </span>
          </div>
          <div class="wf-row wf-head" aria-hidden="true">
            <span class="wf-name">Span</span>
            <Ticks total={trace.duration_ns} win={win} />
          </div>
          <VirtualList
            label="Spans"
            items={rows}
            rowHeight={26}
            activeIndex={selectedIndex}
            row={(node) => (
              <SpanRow
                node={node}
                trace={trace}
                win={win}
                selected={node.span.span_id === selectedId}
                collapsed={collapsed.has(node.span.span_id)}
                flat={!!filter}
                hasError={errorSpans.has(node.span.span_id)}
                onSelect={() => select(node.span.span_id, tab)}
                onToggle={() => toggle(node.span.span_id)}
              />
            )}
          />
        </div>
        <aside class="side" aria-label="Details">
          <Tabs<Tab>
            tabs={[
              ["span", "Span", null],
              ["logs", "Logs", trace.logs.length],
              ["errors", "Errors", trace.errors.length],
            ]}
            current={tab}
            onChange={setTab}
          />
          <div class="side-body">
            {tab === "span" && selected && <SpanDetail span={selected} trace={trace} onSelect={(id) => select(id)} />}
            {tab === "logs" && <LogRows logs={trace.logs} onSpan={(id) => select(id, "logs")} />}
            {tab === "errors" && <TraceErrors errors={trace.errors} onSpan={(id) => select(id, "errors")} />}
          </div>
        </aside>
      </div>
    </section>
  );
}

function Ticks({ total, win }: { total: number; win: Window }) {
  const [first, ...rest] = windowTicks(total, win);
  const last = rest.pop();
  return (
    <span class="wf-lane ticks">
      {[first, ...rest].map(([f, at]) => (
        <span key={f} class="tick" style={{ left: `${f * 100}%` }}>
          {at ? nsDuration(at) : "0"}
        </span>
      ))}
      {last && <span class="tick end">{nsDuration(last[1])}</span>}
    </span>
  );
}

/** Indentation that keeps a deep chain's names readable: full steps first, then small ones. */
const indent = (depth: number) => (depth <= 8 ? depth * 14 : Math.min(200, 112 + (depth - 8) * 3));

/** One waterfall row: cheap on purpose (a few spans and one bar), thousands may scroll past. */
function SpanRow({ node, trace, win, selected, collapsed, flat, hasError, onSelect, onToggle }: {
  node: Node;
  trace: Trace;
  win: Window;
  selected: boolean;
  collapsed: boolean;
  flat: boolean;
  hasError: boolean;
  onSelect: () => void;
  onToggle: () => void;
}) {
  const { span, depth, size } = node;
  const total = Math.max(1, trace.duration_ns);
  const shown = Math.max(1e-9, win.to - win.from);
  const left = (((span.start_ns - trace.start_ns) / total - win.from) / shown) * 100;
  const width = Math.max(0.15, (span.duration_ns / total / shown) * 100);
  const failed = span.status_code === STATUS_ERROR || hasError;
  return (
    <div class={`wf-row ${selected ? "selected" : ""} ${failed ? "failed" : ""}`}>
      <span class="wf-name" style={{ paddingLeft: `${flat ? 4 : 4 + indent(depth)}px` }}>
        {!flat && size > 0 ? (
          <button
            type="button"
            class="fold"
            tabIndex={-1}
            aria-label={collapsed ? `Expand (${size} spans)` : "Collapse"}
            title={collapsed ? `${size} hidden spans` : "Collapse"}
            onClick={onToggle}
          >
            {collapsed ? "▸" : "▾"}
          </button>
        ) : (
          <span class="fold" />
        )}
        <button type="button" class="wf-select" aria-pressed={selected} onClick={onSelect} title={`${span.service_name ?? ""} ${span.name}`}>
          <span class="svc-dot" style={{ background: colourOf(span.service_name) }} aria-hidden="true" />
          <span class="name">{span.name}</span>
          {collapsed && <span class="muted small"> +{size}</span>}
        </button>
      </span>
      <span class="wf-lane" onClick={onSelect}>
        <span
          class="wf-bar"
          style={{ left: `${left}%`, width: `${width}%`, background: colourOf(span.service_name) }}
        />
        {/* after the bar: the lane keeps a margin on its right for the label of a bar that ends there */}
        <span class="wf-dur" style={{ left: `${Math.min(100, left + width)}%` }}>
          {nsDuration(span.duration_ns)}
        </span>
      </span>
    </div>
  );
}

function SpanDetail({ span, trace, onSelect }: { span: Span; trace: Trace; onSelect: (spanId: string) => void }) {
  const parent = span.parent_span_id ? trace.spans.find((s) => s.span_id === span.parent_span_id) : null;
  const logs = trace.logs.filter((l) => l.span_id === span.span_id).length;
  const sessionId = span.session_id || span.linked_session_id;
  const facts: [string, string | null | undefined][] = [
    ["Service", [span.service_name, span.service_version].filter(Boolean).join(" ")],
    ["Kind", KINDS[span.kind] ?? String(span.kind)],
    ["Start", `+${nsDuration(span.start_ns - trace.start_ns)} · ${timeOfDay(span.start_ns / 1e6)}`],
    ["Duration", nsDuration(span.duration_ns)],
    ["Status", span.status_code === STATUS_ERROR ? `error${span.status_message ? `: ${span.status_message}` : ""}` : span.status_code === 1 ? "ok" : "unset"],
    ["Span id", span.span_id],
    ["Environment", span.environment],
    ["Scope", span.scope_name],
    ["Request", span.request_id],
  ];
  return (
    <div class="span-detail">
      <h3 class="span-name">
        <ServiceDot service={span.service_name} /> {span.name}
      </h3>
      <dl class="kv">
        {facts
          .filter(([, v]) => v)
          .map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`} class={k === "Status" && span.status_code === STATUS_ERROR ? "bad" : ""}>{v}</dd>])}
        {parent && [
          <dt key="p-t">Parent</dt>,
          <dd key="p-d">
            <button type="button" class="linkish" onClick={() => onSelect(parent.span_id)}>
              {parent.name}
            </button>
          </dd>,
        ]}
        {span.parent_span_id && !parent && [<dt key="p-t">Parent</dt>, <dd key="p-d">{span.parent_span_id} (not received)</dd>]}
      </dl>
      <div class="links">
        {sessionId && (
          <SessionLink
            sessionId={sessionId}
            atNs={span.start_ns}
            target={span.request_id ? { tab: "network", request: span.request_id } : { tab: "network", trace: trace.trace_id }}
          />
        )}
        {logs > 0 && (
          <Link href={`/logs?query=${encodeURIComponent(`span_id=${span.span_id}`)}`}>
            {logs} log line{logs === 1 ? "" : "s"}
          </Link>
        )}
      </div>
      <h4>Attributes</h4>
      <Attributes values={span.attributes} filter={spanFilter} />
      <h4>Events {span.events?.length ? <span class="muted">({span.events.length})</span> : null}</h4>
      {span.events?.length ? (
        <ol class="events">
          {span.events.map((event, i) => (
            <li key={i}>
              <div>
                <span class="mono muted">+{nsDuration(event.time_ns - span.start_ns)}</span>{" "}
                <strong class={event.name === "exception" ? "bad" : ""}>{event.name}</strong>
              </div>
              <Attributes values={event.attributes} empty="" />
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted small">none</p>
      )}
      <h4>Links</h4>
      {span.links?.length ? (
        <ul class="events">
          {span.links.map((link, i) => (
            <li key={i}>
              {link.trace_id === trace.trace_id ? (
                <button type="button" class="linkish" onClick={() => onSelect(link.span_id)}>
                  span {link.span_id} in this trace
                </button>
              ) : (
                <Link href={traceHref(link.trace_id, link.span_id)}>
                  trace {shortId(link.trace_id)} · span {link.span_id}
                </Link>
              )}
              <Attributes values={link.attributes} empty="" />
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted small">none</p>
      )}
      <h4>Resource</h4>
      <Attributes values={span.resource_attributes} filter={spanFilter} />
    </div>
  );
}

/** A span attribute's value clicked: the traces with a span that has it (in the range carried). */
const spanFilter = (key: string, value: string) => {
  const list = carried("/traces");
  return list + (list.includes("?") ? "&" : "?") + `query=${encodeURIComponent(addFilter("", key, value))}`;
};

function TraceErrors({ errors, onSpan }: { errors: TraceError[]; onSpan: (spanId: string) => void }) {
  if (!errors.length) return <p class="muted small">No errors in this trace.</p>;
  return (
    <ol class="events">
      {errors.map((e) => (
        <li key={e.error_id}>
          <div class="err-title">
            <span class="etype">{e.type || "Error"}</span> {e.message}
          </div>
          <div class="links small">
            <span class="mono muted">{timeOfDay(e.time_ns / 1e6)}</span>
            {e.group_id && <Link href={`/errors/${encodeURIComponent(e.group_id)}?error=${encodeURIComponent(e.error_id)}`}>Error group</Link>}
            {e.span_id && (
              <button type="button" class="linkish" onClick={() => onSpan(e.span_id!)}>
                Show span
              </button>
            )}
          </div>
          <details>
            <summary class="small">Stack</summary>
            <Frames frames={e.frames} stack={e.stack} />
          </details>
        </li>
      ))}
    </ol>
  );
}
