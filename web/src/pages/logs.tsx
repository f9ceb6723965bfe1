// Logs: one searchable stream of backend logs and browser console lines, a level histogram over the
// range, a live tail, and each line's attributes with links to its trace and its session.
// Also exports the small pieces the errors and traces pages share (log rows, attributes, links).
import "./signals.css";
import { Fragment } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, type Frame, type Page, type SessionDetail, type SessionRow, getJson } from "../api";
import { Link } from "../components/Link";
import { SearchBar } from "../components/SearchBar";
import { TimeRange, useRange } from "../components/TimeRange";
import { VirtualList } from "../components/VirtualList";
import { asText, clock, dateTime, timeOfDay } from "../format";
import { useLive } from "../live";
import { usePaged } from "../paging";
import { navigate, withParams } from "../router";
import { Frames } from "./replay";

const ROW_HEIGHT = 28;
const BUCKETS = 60;

export interface LogLine {
  time_ns: number;
  level: string;
  severity_text: string | null;
  body: string;
  service_name: string | null;
  service_version?: string | null;
  environment?: string | null;
  trace_id: string | null;
  span_id: string | null;
  session_id: string | null;
  linked_session_id?: string | null;
  source: string | null;
  scope_name?: string | null;
  request_id?: string | null;
  attributes: Record<string, unknown> | null;
  resource_attributes?: Record<string, unknown> | null;
  frames?: Frame[] | null;
}

interface Histogram {
  start_ns: number | null;
  end_ns: number | null;
  bucket_ns: number | null;
  buckets: { start_ns: number; counts: Record<string, number> }[];
}

// ---------------------------------------------------------------- shared with errors and traces

const LEVELS = ["error", "warn", "info", "debug"] as const;

/** The four colours a level can have (fatal reads as error, trace as debug). */
export function levelOf(level: string | null | undefined): (typeof LEVELS)[number] {
  const l = (level ?? "").toLowerCase();
  if (l.startsWith("err") || l === "fatal" || l === "critical" || l === "crit" || l === "emerg" || l === "alert") {
    return "error";
  }
  if (l.startsWith("warn")) return "warn";
  if (l === "debug" || l === "trace" || l === "verbose") return "debug";
  return "info";
}

export function LevelTag({ level }: { level: string | null | undefined }) {
  return <span class={`lvl lvl-${levelOf(level)}`}>{(level || "info").toLowerCase()}</span>;
}

/** Attributes as a key/value list; nested values as JSON text (never as HTML). */
export function Attributes({ values, empty = "none" }: { values: Record<string, unknown> | null | undefined; empty?: string }) {
  const entries = Object.entries(values ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return <p class="muted small">{empty}</p>;
  return (
    <dl class="kv">
      {entries.map(([key, value]) => (
        <Fragment key={key}>
          <dt>{key}</dt>
          <dd>{asText(value)}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

export const shortId = (id: string) => (id.length > 12 ? id.slice(0, 8) + "…" : id);

export const traceHref = (traceId: string, spanId?: string | null) =>
  `/traces/${encodeURIComponent(traceId)}` + (spanId ? `?span=${encodeURIComponent(spanId)}` : "");

type SessionStart = { state: "loading" } | { state: "missing" } | { state: "found"; firstMs: number | null };
const sessionStarts = new Map<string, Promise<SessionStart>>();

function sessionStart(id: string): Promise<SessionStart> {
  let known = sessionStarts.get(id);
  if (!known) {
    // Ask the list first: a 404 from the detail endpoint would be logged as a console error.
    const safe = /^[\w.:-]+$/.test(id);
    const exists = safe
      ? getJson<Page<SessionRow>>("/api/sessions", { query: `secure_id=${id}`, limit: 1 }).then((p) => p.items.length > 0)
      : Promise.resolve(true);
    known = exists
      .then((found) =>
        found
          ? getJson<SessionDetail>(`/api/sessions/${encodeURIComponent(id)}`).then(
              (s): SessionStart => ({ state: "found", firstMs: s.first_event_ms }),
            )
          : ({ state: "missing" } as SessionStart),
      )
      .catch((e): SessionStart => (e instanceof ApiError && e.status === 404 ? { state: "missing" } : { state: "found", firstMs: null }))
      .then((s) => {
        // a session still arriving may exist on a later look
        if (s.state === "missing") setTimeout(() => sessionStarts.delete(id), 10_000);
        return s;
      });
    sessionStarts.set(id, known);
  }
  return known;
}

/** A link to a session's replay at the moment `atNs` (backend telemetry can name a session id that no
 * browser ever recorded: then it says so instead of linking to a replay that does not exist). */
export function SessionLink({ sessionId, atNs, offsetMs }: {
  sessionId: string | null | undefined;
  atNs?: number | null;
  offsetMs?: number | null;
}) {
  const [start, setStart] = useState<SessionStart>({ state: "loading" });
  useEffect(() => {
    if (!sessionId) return;
    let live = true;
    setStart({ state: "loading" });
    sessionStart(sessionId).then((s) => live && setStart(s));
    return () => {
      live = false;
    };
  }, [sessionId]);
  if (!sessionId) return null;
  if (start.state === "missing") {
    return (
      <span class="muted" title={`Session ${sessionId} is named by the telemetry, but no replay of it was recorded`}>
        session {shortId(sessionId)} (no replay)
      </span>
    );
  }
  let t = offsetMs ?? null;
  if (t === null && start.state === "found" && start.firstMs !== null && atNs !== null && atNs !== undefined) {
    t = Math.max(0, Math.round(atNs / 1e6 - start.firstMs));
  }
  const href = `/sessions/${encodeURIComponent(sessionId)}` + (t !== null ? `?t=${t}` : "");
  return (
    <Link href={href} title={`Session ${sessionId}`}>
      {t !== null ? `Replay at ${clock(t)}` : "Session replay"}
    </Link>
  );
}

/** The session a line belongs to: its own, else the one its trace belongs to. */
export const sessionOf = (log: LogLine) => log.session_id || log.linked_session_id || null;

/** Log lines in a short list (a trace's, an error's surroundings): each opens to its attributes. */
export function LogRows({ logs, markNs, limit = 500, onSpan }: {
  logs: LogLine[];
  markNs?: number | null;
  limit?: number;
  onSpan?: (spanId: string) => void;
}) {
  if (!logs.length) return <p class="muted small">No log lines.</p>;
  // the line closest to the marked moment (an error's time) is highlighted
  let closest = -1;
  if (markNs !== null && markNs !== undefined) {
    let best = Infinity;
    logs.forEach((log, i) => {
      const d = Math.abs(log.time_ns - markNs);
      if (d < best) [best, closest] = [d, i];
    });
  }
  return (
    <div class="log-rows">
      {logs.slice(0, limit).map((log, i) => (
        <LogItem key={i} log={log} marked={i === closest} onSpan={onSpan} />
      ))}
      {logs.length > limit && (
        <p class="muted small">
          {logs.length - limit} more lines not shown; <Link href={`/logs?query=${encodeURIComponent(`trace_id=${logs[0].trace_id}`)}`}>search them</Link>.
        </p>
      )}
    </div>
  );
}

/** One line of a short list; its details are built only once opened (there may be hundreds). */
function LogItem({ log, marked, onSpan }: { log: LogLine; marked: boolean; onSpan?: (spanId: string) => void }) {
  const [open, setOpen] = useState(false);
  return (
    <details class={`log-item ${marked ? "marked" : ""}`} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        <span class="at mono" title={dateTime(log.time_ns / 1e6)}>
          {timeOfDay(log.time_ns / 1e6)}
        </span>
        <LevelTag level={log.level} />
        <span class="svc">{log.service_name || log.source || ""}</span>
        <span class="body mono">{firstLine(log.body)}</span>
      </summary>
      {open && (
        <div class="log-more">
          {log.body.includes("\n") && <pre class="code">{log.body}</pre>}
          <Attributes values={log.attributes} empty="no attributes" />
          <div class="links">
            {log.span_id && onSpan && (
              <button type="button" class="linkish" onClick={() => onSpan(log.span_id!)}>
                Show span
              </button>
            )}
            {log.trace_id && !onSpan && <Link href={traceHref(log.trace_id, log.span_id)}>Trace</Link>}
            <SessionLink sessionId={sessionOf(log)} atNs={log.time_ns} />
          </div>
        </div>
      )}
    </details>
  );
}

export const firstLine = (text: string) => {
  const cut = text.indexOf("\n");
  return cut < 0 ? text : text.slice(0, cut) + " …";
};

// ---------------------------------------------------------------- the logs page

const logKey = (log: LogLine) => `${log.time_ns}|${log.span_id ?? ""}|${log.level}|${log.body.length}|${log.body.slice(0, 64)}`;

export function LogsPage({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const range = useRange(params);
  const list = usePaged<LogLine>("/api/logs", { query, ...range }, logKey, 200);
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
      <div class="toolbar">
        <SearchBar
          signal="logs"
          query={query}
          error={list.error?.status === 400 ? list.error : null}
          placeholder="Search logs: level=error service_name=api timeout trace_id=…"
        />
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
        <TimeRange params={params} />
      </div>
      {list.error && list.error.status !== 400 && <p class="error-note">{list.error.message}</p>}
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
        {selected && <LogDetail log={selected} onClose={() => setSelected(null)} />}
      </div>
      <footer class="status">
        {list.items.length} line{list.items.length === 1 ? "" : "s"}
        {list.done ? "" : list.loading ? " · loading…" : " · scroll for more"}
        {live ? " · live" : " · paused"}
      </footer>
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

function LogDetail({ log, onClose }: { log: LogLine; onClose: () => void }) {
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
          <SessionLink sessionId={sessionOf(log)} atNs={log.time_ns} />
        </div>
        <button type="button" ref={close} class="close" aria-label="Close" title="Close (Esc)" onClick={onClose}>
          ×
        </button>
      </div>
      <div class="side-body">
        <pre class="code">{log.body}</pre>
        <h4>Attributes</h4>
        <Attributes values={log.attributes} />
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
        <Attributes values={log.resource_attributes} />
      </div>
    </aside>
  );
}

function useHistogram(query: string, range: { start?: number; end?: number }) {
  const [data, setData] = useState<Histogram | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    // With only a start, end the buckets now (not at the newest line), so the bars read as a clock.
    const end = range.end ?? (range.start !== undefined ? Date.now() : undefined);
    getJson<Histogram>("/api/logs/histogram", { buckets: BUCKETS, query, ...range, end }, abort.signal)
      .then(setData)
      .catch(() => {
        if (!abort.signal.aborted) setData(null);
      });
    return () => abort.abort();
  }, [query, range, version]);
  return { data, reload: () => setVersion((v) => v + 1) };
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
