// Errors: frontend and backend errors grouped into issues. The list shows how often each happens
// and when; a group shows its newest stack, its state (resolve, ignore, reopen), and its occurrences,
// each with one click to its session at that moment, its trace, and the log lines around it.
import "./signals.css";
import { useEffect, useState } from "preact/hooks";
import {
  type ErrorGroup,
  type ErrorGroupDetail,
  type Occurrence,
  type State,
  type StateChanged,
  apiUrl,
  getApi,
  patchJson,
} from "../api";
import { Legend, TimeChart } from "../components/Chart";
import { Link } from "../components/Link";
import { ListStatus, ListToolbar } from "../components/ListPage";
import { VirtualList } from "../components/VirtualList";
import { useFetched } from "../fetched";
import { ago, asText, dateTime, timeOfDay } from "../format";
import { useLive } from "../live";
import { usePaged } from "../paging";
import { backTo, carried, navigate, withParams } from "../router";
import { Frames, LogRows, SessionLink, shortId, traceHref } from "../components/telemetry";
import { GroupFacets, GroupSessions } from "./error-depth";
import { useRange } from "../components/TimeRange";

const ROW_HEIGHT = 52;
const BUCKETS = 30;

const ms = (ns: number) => ns / 1e6;

// ---------------------------------------------------------------- the group list

const STATES: [string, string][] = [
  ["open", "Open"],
  ["resolved", "Resolved"],
  ["ignored", "Ignored"],
  ["all", "All"],
];

export function ErrorsPage({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const state = params.get("state") ?? "open";
  const range = useRange(params);
  const list = usePaged(
    "/api/error-groups",
    { query, state: state === "all" ? null : state, buckets: BUCKETS, ...range },
    (g) => g.group_id,
    100,
  );
  useLive(["errors"], list.refresh, 2000);
  return (
    <section class="page signals">
      <ListToolbar
        signal="errors"
        params={params}
        query={query}
        list={list}
        placeholder="Search errors: type=TypeError service_name=api checkout"
      >
        <div class="segmented" role="group" aria-label="State">
          {STATES.map(([key, label]) => (
            <button
              type="button"
              key={key}
              aria-pressed={state === key}
              class={state === key ? "on" : ""}
              onClick={() => navigate(withParams({ state: key === "open" ? null : key }))}
            >
              {label}
            </button>
          ))}
        </div>
      </ListToolbar>
      <div class="list-head group-row" aria-hidden="true">
        <span>Error</span>
        <span title="occurrences in the time range, oldest to newest">Trend</span>
        <span class="num">Events</span>
        <span class="num">Sessions</span>
        <span class="num">Last seen</span>
        <span class="num">First seen</span>
      </div>
      {list.items.length === 0 && !list.loading ? (
        // a failed search has no results to speak of: its error says why
        !list.error && <EmptyErrors query={query} state={state} />
      ) : (
        <VirtualList
          label="Error groups"
          items={list.items}
          rowHeight={ROW_HEIGHT}
          onEnd={list.more}
          row={(group) => <GroupLine group={group} />}
        />
      )}
      <ListStatus list={list} noun="error group">
        {state !== "all" ? ` · ${state}` : ""}
      </ListStatus>
    </section>
  );
}

function GroupLine({ group }: { group: ErrorGroup }) {
  const inRange = group.range_occurrences;
  return (
    <Link href={carried(`/errors/${encodeURIComponent(group.group_id)}`)} class="group-row row-link">
      <span class="title-cell">
        <span class="title">
          <span class="etype">{group.type || "Error"}</span> {group.title}
        </span>
        <small>
          {group.service_name || (group.source === "frontend" ? "browser" : "–")} · {group.source || "?"}
          {group.state !== "open" && <span class={`state-tag ${group.state}`}>{group.state}</span>}
        </small>
      </span>
      <Sparkline counts={group.sparkline} />
      <span class="num" title={`${inRange} in this range, ${group.occurrences} in all`}>
        {inRange}
        {inRange !== group.occurrences && <small class="muted"> /{group.occurrences}</small>}
      </span>
      <span class="num">{group.affected_sessions}</span>
      <span class="num" title={dateTime(ms(group.last_seen_ns))}>
        {ago(ms(group.last_seen_ns))}
      </span>
      <span class="num muted" title={dateTime(ms(group.first_seen_ns))}>
        {ago(ms(group.first_seen_ns))}
      </span>
    </Link>
  );
}

/** Occurrences per bucket of the range as small bars (inline SVG: no recorded text involved). */
function Sparkline({ counts }: { counts: number[] }) {
  const max = Math.max(1, ...counts);
  const w = 4;
  const h = 22;
  return (
    <svg
      class="sparkline"
      viewBox={`0 0 ${counts.length * w} ${h}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`peak ${max} per bucket`}
    >
      {counts.map((n, i) =>
        n ? <rect key={i} x={i * w + 0.5} width={w - 1} y={h - Math.max(2, (n / max) * h)} height={Math.max(2, (n / max) * h)} /> : null,
      )}
      <line x1="0" x2={counts.length * w} y1={h - 0.5} y2={h - 0.5} />
    </svg>
  );
}

function EmptyErrors({ query, state }: { query: string; state: string }) {
  if (query) return <p class="empty">No error matches this search in this time range.</p>;
  if (state !== "all") {
    return (
      <p class="empty">
        No {state} error groups in this time range. <Link href={withParams({ state: "all" })}>Show all states</Link>.
      </p>
    );
  }
  return (
    <div class="empty">
      <p>No errors recorded in this time range.</p>
      <p>
        Errors arrive from the browser SDK (uncaught errors, <code>H.consumeError</code>) and from backends (exception
        events on OpenTelemetry spans, Highlight backend SDKs).
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- one group

export function ErrorGroupPage({ groupId, params }: { groupId: string; params: URLSearchParams }) {
  const fetched = useFetched(
    (signal) => getApi("/api/error-groups/{group_id}", { group_id: groupId, limit: 50 }, signal),
    [groupId],
  );
  const group = fetched.data;
  const failure = fetched.error;
  const [more, setMore] = useState<Occurrence[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(params.get("error"));

  // a refresh brings the newest page again; older pages loaded by hand stay
  useEffect(() => {
    if (group) setCursor((c) => (more.length ? c : group.next_cursor));
  }, [group]);
  useEffect(() => {
    setMore([]);
    setSelected(params.get("error"));
  }, [groupId]);
  useLive(["errors"], fetched.reload, 2000);

  if (failure) {
    return (
      <section class="page signals">
        <BackToErrors />
        <p class="error-note">{failure.status === 404 ? `There is no error group ${groupId}.` : failure.message}</p>
      </section>
    );
  }
  if (!group) return <section class="page signals"><p class="muted">Loading…</p></section>;

  const seen = new Set(group.occurrences_latest.map((o) => o.error_id));
  const occurrences = [...group.occurrences_latest, ...more.filter((o) => !seen.has(o.error_id))];
  const current = selected ?? occurrences[0]?.error_id ?? null;
  // the group's own `stack` is the one it was first grouped by; the newest occurrence's reads truer
  const newest = group.occurrences_latest[0] ?? group;
  const loadMore = () => {
    if (!cursor) return;
    getApi("/api/error-groups/{group_id}", { group_id: groupId, limit: 50, cursor }).then((page) => {
      setMore((old) => [...old, ...page.occurrences_latest]);
      setCursor(page.next_cursor);
    });
  };
  const choose = (id: string) => {
    setSelected(id);
    navigate(withParams({ error: id }), true);
  };

  return (
    <section class="page signals group-page">
      <BackToErrors />
      <header class="group-head">
        <div class="group-title">
          <h1>
            <span class="etype">{group.type || "Error"}</span> {group.title}
          </h1>
          <div class="facts">
            <span class={`state-tag ${group.state}`}>{group.state}</span>
            <span>{group.source || "?"}</span>
            <span>{group.service_name || "–"}</span>
            <span>
              <strong>{group.occurrences}</strong> occurrence{group.occurrences === 1 ? "" : "s"}
            </span>
            <span>
              <strong>{group.affected_sessions}</strong> session{group.affected_sessions === 1 ? "" : "s"}
            </span>
            <span title={dateTime(ms(group.first_seen_ns))}>first {ago(ms(group.first_seen_ns))}</span>
            <span title={dateTime(ms(group.last_seen_ns))}>last {ago(ms(group.last_seen_ns))}</span>
          </div>
        </div>
        <StateButtons group={group} onChange={(state) => fetched.set({ ...group, state })} />
      </header>
      <GroupChart groupId={groupId} params={params} />
      <div class="group-body">
        <div class="group-main">
          <GroupFacets groupId={groupId} params={params} />
          <h4>Stack of the newest occurrence</h4>
          <div class="stack-box">
            <Frames frames={newest.frames} stack={newest.stack} />
          </div>
          <h4>
            Occurrences <span class="muted">({occurrences.length} of {group.occurrences}, newest first)</span>
          </h4>
          <ol class="occurrences" aria-label="Occurrences">
            {occurrences.map((o) => (
              <li key={o.error_id}>
                <button
                  type="button"
                  class={`row-button occ-row ${o.error_id === current ? "active" : ""}`}
                  aria-pressed={o.error_id === current}
                  onClick={() => choose(o.error_id)}
                >
                  <span class="at mono" title={dateTime(ms(o.time_ns))}>
                    {dateTime(ms(o.time_ns)).slice(0, 10)} {timeOfDay(ms(o.time_ns))}
                  </span>
                  <span class="svc">{[o.service_name, o.environment].filter(Boolean).join(" · ") || "–"}</span>
                  <span class="where mono">{o.url || (o.session_id ? `session ${shortId(o.session_id)}` : "")}</span>
                  <span class="marks">
                    {o.trace_id && <span class="mark">trace</span>}
                    {o.session_id && <span class="mark">session</span>}
                  </span>
                </button>
              </li>
            ))}
          </ol>
          {cursor && (
            <button type="button" class="more" onClick={loadMore}>
              Load older occurrences
            </button>
          )}
          <GroupSessions groupId={groupId} params={params} />
        </div>
        {current && <OccurrencePanel errorId={current} newestStack={newest.stack} />}
      </div>
    </section>
  );
}

function BackToErrors() {
  return (
    <Link href={backTo("/errors")} class="back">
      ← Errors
    </Link>
  );
}

function StateButtons({ group, onChange }: { group: ErrorGroupDetail; onChange: (state: State) => void }) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const set = (state: State) => {
    setBusy(true);
    setFailure(null);
    patchJson<StateChanged>(apiUrl("/api/error-groups/{group_id}", { group_id: group.group_id }), { state })
      .then((reply) => onChange(reply.state))
      .catch((e) => setFailure(e instanceof Error ? e.message : String(e)))
      .finally(() => setBusy(false));
  };
  const actions: [State, string][] =
    group.state === "open"
      ? [["resolved", "Resolve"], ["ignored", "Ignore"]]
      : group.state === "resolved"
        ? [["open", "Reopen"], ["ignored", "Ignore"]]
        : [["open", "Reopen"], ["resolved", "Resolve"]];
  return (
    <div class="state-buttons">
      {actions.map(([state, label], i) => (
        <button type="button" key={state} class={i === 0 ? "primary" : ""} disabled={busy} onClick={() => set(state)}>
          {label}
        </button>
      ))}
      {failure && <span class="bad small">{failure}</span>}
      {group.state === "resolved" && <span class="muted small">A new occurrence reopens it.</span>}
    </div>
  );
}

/** One occurrence: where it happened, links to its replay moment and trace, the logs around it. */
function OccurrencePanel({ errorId, newestStack }: { errorId: string; newestStack: string | null }) {
  const { data: error, error: failure } = useFetched(
    (signal) => getApi("/api/errors/{error_id}", { error_id: errorId }, signal),
    [errorId],
  );
  if (failure) return <aside class="side"><p class="error-note">{failure.message}</p></aside>;
  if (!error) return <aside class="side"><p class="muted">Loading…</p></aside>;
  const facts: [string, unknown][] = [
    ["Time", `${dateTime(ms(error.time_ns))} (${timeOfDay(ms(error.time_ns))})`],
    ["Message", error.message],
    ["Service", [error.service_name, error.service_version].filter(Boolean).join(" ")],
    ["Environment", error.environment],
    ["URL", error.url],
    ["Session", error.session_id],
    ["Request", error.request_id],
    ["Trace", error.trace_id],
    ["Span", error.span_id],
  ];
  const payload = error.payload;
  const hasPayload = payload !== null && payload !== undefined && payload !== "" &&
    !(typeof payload === "object" && Object.keys(payload as object).length === 0);
  return (
    <aside class="side" aria-label="Occurrence">
      <div class="side-head">
        <strong>Occurrence</strong>
        <div class="links">
          <SessionLink
            sessionId={error.session_id}
            offsetMs={error.session_offset_ms}
            atNs={error.time_ns}
            target={{ tab: "errors", error: error.error_id }}
          />
          {error.trace_id && <Link href={traceHref(error.trace_id, error.span_id)}>Trace</Link>}
          {error.trace_id && (
            <Link href={`/logs?query=${encodeURIComponent(`trace_id=${error.trace_id}`)}`}>Trace logs</Link>
          )}
        </div>
      </div>
      <div class="side-body">
        <dl class="kv">
          {facts
            .filter(([, v]) => v !== null && v !== undefined && v !== "")
            .map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`}>{asText(v)}</dd>])}
        </dl>
        {error.stack && error.stack !== newestStack && (
          <>
            <h4>Its stack (differs from the newest)</h4>
            <Frames frames={error.frames} stack={error.stack} />
          </>
        )}
        {hasPayload && (
          <>
            <h4>Payload</h4>
            <pre class="code">{asText(payload)}</pre>
          </>
        )}
        <h4>
          Logs around it{" "}
          <span class="muted">({error.trace_id ? "its trace" : error.session_id ? "its session, ±60 s" : "none linked"})</span>
        </h4>
        <LogRows logs={error.logs_around} markNs={error.time_ns} />
      </div>
    </aside>
  );
}

/** Occurrences over the list's time range (or the group's whole life), bars per bucket; a drag or a click
 * narrows the range. */
function GroupChart({ groupId, params }: { groupId: string; params: URLSearchParams }) {
  const range = useRange(params);
  const fetched = useFetched(
    (signal) => getApi("/api/error-groups/{group_id}/chart", { group_id: groupId, buckets: 60, ...range }, signal),
    [groupId, range],
    true,
  );
  useLive(["errors"], fetched.reload, 3000);
  const chart = fetched.data;
  if (!chart) return <div class="group-chart" />;
  const zoom = (startNs: number, endNs: number) =>
    navigate(
      withParams({
        range: null,
        start: new Date(Math.floor(startNs / 1e6)).toISOString(),
        end: new Date(Math.ceil(endNs / 1e6)).toISOString(),
      }),
    );
  const series = [
    { label: "occurrences", values: chart.counts, colour: "#d24d74" },
    { label: "sessions hit", values: chart.sessions, colour: "#4f7fe8" },
  ];
  return (
    <div class="group-chart">
      <div class="chart-title">
        <h4>Occurrences over time</h4>
        <TimeRangeNote params={params} />
      </div>
      <TimeChart
        startNs={chart.start_ns}
        bucketNs={chart.bucket_ns}
        series={series}
        bars
        whole
        height={140}
        format={(v) => String(Math.round(v))}
        label={`Occurrences over time, ${chart.counts.reduce((a, n) => a + n, 0)} in all`}
        onRange={zoom}
      />
      <Legend series={series} />
    </div>
  );
}

function TimeRangeNote({ params }: { params: URLSearchParams }) {
  const custom = params.has("start") || params.has("end") || params.has("range");
  if (!custom) return <span class="muted small">the group's whole life</span>;
  return (
    <span class="muted small">
      the list's time range · <Link href={withParams({ range: null, start: null, end: null })}>whole life</Link>
    </span>
  );
}

