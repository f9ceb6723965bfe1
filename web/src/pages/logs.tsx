// Logs: one searchable stream of backend logs and browser console lines, a level histogram over the
// range, a live tail, and each line's attributes with links to its trace and its session.
import "./signals.css";
import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Histogram, type LogLine, getApi } from "../api";
import { Link } from "../components/Link";
import { ListStatus, ListToolbar } from "../components/ListPage";
import { useRange } from "../components/TimeRange";
import { VirtualList } from "../components/VirtualList";
import { useFetched } from "../fetched";
import { asText, dateTime, timeOfDay } from "../format";
import { useLive } from "../live";
import { usePaged } from "../paging";
import { navigate, withParams } from "../router";
import {
  Attributes,
  Frames,
  LEVELS,
  LevelTag,
  SessionLink,
  addFilter,
  firstLine,
  levelOf,
  logTarget,
  sessionOf,
  traceHref,
} from "../components/telemetry";

const ROW_HEIGHT = 28;
const BUCKETS = 60;

// ---------------------------------------------------------------- the logs page

const logKey = (log: LogLine) => `${log.time_ns}|${log.span_id}|${log.level}|${log.body.length}|${log.body.slice(0, 64)}`;

export function LogsPage({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const range = useRange(params);
  const list = usePaged("/api/logs", { query, ...range }, logKey, 200);
  const histogram = useHistogram(query, range);
  const [live, setLive] = useState(true);
  const [selected, setSelected] = useState<LogLine | null>(null);
  useLive(["logs"], () => {
    if (!live) return;
    list.refresh();
    histogram.reload();
  });
  useEffect(() => setSelected(null), [query, range]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setSelected(null);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const selectedKey = selected ? logKey(selected) : null;
  const active = selectedKey ? list.items.findIndex((l) => logKey(l) === selectedKey) : -1;

  return (
    <section class="page signals">
      <ListToolbar
        signal="logs"
        params={params}
        query={query}
        list={list}
        placeholder="Search logs: level=error service_name=api timeout trace_id=…"
      >
        <button
          type="button"
          class={`live-toggle ${live ? "on" : ""}`}
          aria-pressed={live}
          title="Show new lines as they arrive"
          onClick={() => {
            setLive(!live);
            if (!live) {
              list.refresh();
              histogram.reload();
            }
          }}
        >
          <span class="dot" aria-hidden="true" /> Live
        </button>
      </ListToolbar>
      <LevelHistogram data={histogram.data} />
      <div class={`split ${selected ? "with-side" : ""}`}>
        <div class="split-main">
          <div class="list-head log-row" aria-hidden="true">
            <span>Time</span>
            <span>Level</span>
            <span>Service</span>
            <span>Message</span>
            <span />
          </div>
          {list.items.length === 0 && !list.loading ? (
            // a failed search has no results to speak of: its error says why
            !list.error && <EmptyLogs query={query} />
          ) : (
            <VirtualList
              label="Log lines"
              items={list.items}
              rowHeight={ROW_HEIGHT}
              onEnd={list.more}
              activeIndex={active >= 0 ? active : null}
              row={(log, i) => (
                <LogListRow log={log} active={i === active} onOpen={() => setSelected(i === active ? null : log)} />
              )}
            />
          )}
        </div>
        {selected && <LogDetail log={selected} query={query} onClose={() => setSelected(null)} />}
      </div>
      <ListStatus list={list} noun="line">
        {live ? " · live" : " · paused"}
      </ListStatus>
    </section>
  );
}

function LogListRow({ log, active, onOpen }: { log: LogLine; active: boolean; onOpen: () => void }) {
  const ms = log.time_ns / 1e6;
  return (
    <button type="button" class={`log-row row-button ${active ? "active" : ""}`} aria-expanded={active} onClick={onOpen}>
      <span class="at mono" title={dateTime(ms)}>
        {timeOfDay(ms)}
      </span>
      <LevelTag level={log.level} />
      <span class="svc" title={log.service_name ?? ""}>
        {log.service_name || (log.source === "frontend" ? "browser" : "–")}
      </span>
      <span class={`body mono lvl-text-${levelOf(log.level)}`}>{firstLine(log.body)}</span>
      <span class="marks">
        {log.trace_id && <span class="mark" title="has a trace">trace</span>}
        {sessionOf(log) && <span class="mark" title="belongs to a session">session</span>}
      </span>
    </button>
  );
}

/** The body: the list's preview, and the whole line on request (a body can be 50 MB). */
function LogBody({ log }: { log: LogLine }) {
  const [whole, setWhole] = useState<string | null>(null);
  const [state, setState] = useState<"preview" | "loading" | "failed">("preview");
  useEffect(() => {
    setWhole(null);
    setState("preview");
  }, [log]);
  const load = () => {
    if (!log.line_id) return;
    setState("loading");
    getApi("/api/log-lines/{line_id}", { line_id: log.line_id })
      .then((line) => setWhole(line.body))
      .catch(() => setState("failed"));
  };
  return (
    <>
      <pre class="code">{whole ?? log.body}</pre>
      {log.body_truncated && whole === null && (
        <p class="note">
          The first {log.body.length.toLocaleString()} characters of {formatBytes(log.body_bytes)}.{" "}
          {log.line_id && (
            <button type="button" class="linkish" disabled={state === "loading"} onClick={load}>
              {state === "loading" ? "Loading…" : "Show the whole line"}
            </button>
          )}
          {state === "failed" && " It could not be loaded (it may have been pruned)."}
        </p>
      )}
    </>
  );
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${n} bytes`;
}

function LogDetail({ log, query, onClose }: { log: LogLine; query: string; onClose: () => void }) {
  // an attribute's value clicked: this search narrowed to lines that have it
  const filter = (key: string, value: string) => withParams({ query: addFilter(query, key, value), cursor: null });
  const close = useRef<HTMLButtonElement>(null);
  useEffect(() => close.current?.focus(), [log]);
  const about: [string, unknown][] = [
    ["Time", dateTime(log.time_ns / 1e6) + " (" + timeOfDay(log.time_ns / 1e6) + ")"],
    ["Level", log.severity_text || log.level],
    ["Service", [log.service_name, log.service_version].filter(Boolean).join(" ")],
    ["Environment", log.environment],
    ["Source", log.source],
    ["Scope", log.scope_name],
    ["Trace", log.trace_id],
    ["Span", log.span_id],
    ["Session", sessionOf(log)],
    ["Request", log.request_id],
  ];
  return (
    <aside class="side" aria-label="Log line">
      <div class="side-head">
        <LevelTag level={log.level} />
        <div class="links">
          {log.trace_id && <Link href={traceHref(log.trace_id, log.span_id)}>Trace</Link>}
          <SessionLink sessionId={sessionOf(log)} atNs={log.time_ns} target={logTarget(log)} />
        </div>
        <button type="button" ref={close} class="close" aria-label="Close" title="Close (Esc)" onClick={onClose}>
          ×
        </button>
      </div>
      <div class="side-body">
        <LogBody log={log} />
        <h4>Attributes</h4>
        <Attributes values={log.attributes} filter={filter} />
        {log.frames && log.frames.length > 0 && (
          <>
            <h4>Stack</h4>
            <Frames frames={log.frames} />
          </>
        )}
        <h4>Line</h4>
        <dl class="kv">
          {about
            .filter(([, v]) => v !== null && v !== undefined && v !== "")
            .map(([k, v]) => (
              <Fragment key={k}>
                <dt>{k}</dt>
                <dd>{asText(v)}</dd>
              </Fragment>
            ))}
        </dl>
        <h4>Resource</h4>
        <Attributes values={log.resource_attributes} filter={filter} />
      </div>
    </aside>
  );
}

function useHistogram(query: string, range: { start?: number; end?: number }) {
  const fetched = useFetched(
    (signal) => {
      // With only a start, end the buckets now (not at the newest line), so the bars read as a clock.
      const end = range.end ?? (range.start !== undefined ? Date.now() : undefined);
      return getApi("/api/logs/histogram", { buckets: BUCKETS, query, ...range, end }, signal);
    },
    [query, range],
    true, // a new query or range keeps the bars shown until its own arrive
  );
  return { data: fetched.error ? null : fetched.data, reload: fetched.reload };
}

/** Stacked bars of lines per level over the range; a bar zooms the range to its bucket. */
function LevelHistogram({ data }: { data: Histogram | null }) {
  if (!data || !data.buckets.length || data.bucket_ns === null) return null;
  const width = data.bucket_ns;
  const totals = data.buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0));
  const max = Math.max(1, ...totals);
  const byLevel: Record<string, number> = {};
  for (const b of data.buckets) {
    for (const [level, n] of Object.entries(b.counts)) {
      const l = levelOf(level);
      byLevel[l] = (byLevel[l] ?? 0) + n;
    }
  }
  const zoom = (startNs: number) =>
    navigate(
      withParams({
        range: null,
        start: new Date(Math.floor(startNs / 1e6)).toISOString(),
        end: new Date(Math.ceil((startNs + width) / 1e6)).toISOString(),
      }),
    );
  return (
    <div class="histogram-box">
      <div class="histogram" role="img" aria-label={`Log lines over time, at most ${max} per bar`}>
        {data.buckets.map((b, i) => {
          const segments = LEVELS.map((level) => [
            level,
            Object.entries(b.counts)
              .filter(([l]) => levelOf(l) === level)
              .reduce((a, [, n]) => a + n, 0),
          ] as const).filter(([, n]) => n > 0);
          const label = `${dateTime(b.start_ns / 1e6)}: ${totals[i]} line${totals[i] === 1 ? "" : "s"}` +
            segments.map(([l, n]) => `, ${n} ${l}`).join("");
          return (
            <button
              type="button"
              key={i}
              tabIndex={-1}
              class="bar"
              title={label + (totals[i] ? " (click to zoom)" : "")}
              disabled={!totals[i]}
              onClick={() => zoom(b.start_ns)}
            >
              <span class="stack" style={{ height: `${(totals[i] / max) * 100}%` }}>
                {segments.map(([level, n]) => (
                  <span key={level} class={`seg bg-${level}`} style={{ flexGrow: n }} />
                ))}
              </span>
            </button>
          );
        })}
      </div>
      <div class="axis">
        <span>{dateTime((data.start_ns ?? 0) / 1e6)}</span>
        <span class="legend">
          {LEVELS.filter((l) => byLevel[l]).map((l) => (
            <span key={l}>
              <span class={`swatch bg-${l}`} aria-hidden="true" /> {l} {byLevel[l]}
            </span>
          ))}
          <span class="muted">max {max}/bar</span>
        </span>
        <span>{dateTime((data.start_ns ?? 0) / 1e6 + (width * data.buckets.length) / 1e6)}</span>
      </div>
    </div>
  );
}

function EmptyLogs({ query }: { query: string }) {
  if (query) return <p class="empty">No log line matches this search in this time range.</p>;
  return (
    <div class="empty">
      <p>No log lines in this time range.</p>
      <p>
        Send OpenTelemetry logs to <code>{location.origin}/v1/logs</code> (OTLP/HTTP), or use a Highlight backend
        SDK; browser console lines recorded by the browser SDK appear here too.
      </p>
    </div>
  );
}
