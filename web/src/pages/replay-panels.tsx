// The panels next to the replay: console, network, errors, backend logs and the session's facts. Rows
// follow the play head (past rows plain, the current one marked, future ones dimmed) and seek on click;
// a row whose moment is outside the recording says so and seeks to the nearest end instead.
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ConsoleLine, LogLine, NetworkRequest, SessionDetail, SessionError } from "../api";
import { Link } from "../components/Link";
import { Tabs } from "../components/Tabs";
import { Attributes, Frames, LevelTag, traceHref } from "../components/telemetry";
import { asText, bytes, clock, dateTime, duration, nsToMs, timeOfDay } from "../format";
import { type Playback, type Parts, lastAtOrBefore, placeOf } from "./replay-model";

export type Tab = "console" | "network" | "errors" | "logs" | "info";
export const TABS: Tab[] = ["console", "network", "errors", "logs", "info"];

/** What a link asked the panels to show: a tab, and the item to open in it. */
export interface Selection {
  tab: Tab | null;
  error: string | null;
  request: string | null;
  trace: string | null;
}

export function Panels({ parts, playback, selection, onTab }: {
  parts: Parts | null;
  playback: Playback;
  selection: Selection;
  onTab: (tab: Tab) => void;
}) {
  const first: Tab = selection.tab ?? (selection.error ? "errors" : selection.request || selection.trace ? "network" : "console");
  const [tab, setTab] = useState<Tab>(first);
  useEffect(() => setTab(first), [first]);
  const backend = useMemo(() => parts?.logs.filter((l) => l.source !== "frontend") ?? null, [parts]);
  const tabs: [Tab, string, number | null][] = [
    ["console", "Console", parts?.console.length ?? null],
    ["network", "Network", parts?.network.length ?? null],
    ["errors", "Errors", parts?.errors.length ?? null],
    ["logs", "Logs", backend?.length ?? null],
    ["info", "Info", null],
  ];
  const choose = (next: Tab) => {
    setTab(next);
    onTab(next);
  };
  return (
    <aside class="panels">
      <Tabs tabs={tabs} current={tab} onChange={choose} />
      <div class="panel" role="tabpanel">
        {!parts || !backend ? (
          <p class="muted">Loading…</p>
        ) : tab === "console" ? (
          <ConsolePanel lines={parts.console} playback={playback} />
        ) : tab === "network" ? (
          <NetworkPanel requests={parts.network} playback={playback} selection={selection} />
        ) : tab === "errors" ? (
          <ErrorsPanel errors={parts.errors} playback={playback} selected={selection.error} />
        ) : tab === "logs" ? (
          <LogsPanel lines={backend} playback={playback} />
        ) : (
          <InfoPanel session={parts.session} />
        )}
      </div>
    </aside>
  );
}

/** Rows that follow the play head; `open` (an item a link asked for) is scrolled to once. */
function useFollow(times: number[], playback: Playback, open: number | null = null) {
  const current = lastAtOrBefore(times, playback.start + playback.now);
  const list = useRef<HTMLOListElement>(null);
  const shown = useRef(false);
  useEffect(() => {
    if (open !== null && !shown.current) return;
    list.current?.querySelector<HTMLElement>(`[data-index="${current}"]`)?.scrollIntoView({ block: "nearest" });
  }, [current]);
  useEffect(() => {
    if (open === null || shown.current) return;
    shown.current = true;
    list.current?.querySelector<HTMLElement>(`[data-index="${open}"]`)?.scrollIntoView({ block: "center" });
  }, [open]);
  return { current, list };
}

export function SeekRow({ index, current, at, playback, children, class: className, aside, expanded }: {
  index: number;
  current: number;
  at: number; // epoch ms
  playback: Playback;
  children: ComponentChildren;
  class?: string;
  aside?: ComponentChildren; // on the row's line, after the seek button
  expanded?: ComponentChildren; // below it
}) {
  const place = placeOf(playback, at);
  const state = index === current ? "current" : at > playback.start + playback.now ? "future" : "past";
  const where = place.outside === "after" ? "after the recording" : place.outside === "before" ? "before the recording" : null;
  return (
    <li class={`seek-row ${state} ${className ?? ""}`} data-index={index}>
      <div class="line">
        <button
          type="button"
          class="seek"
          onClick={() => playback.seek(place.offset)}
          title={where ? `At ${timeOfDay(at)}, ${where}: seeks to its ${place.outside === "after" ? "end" : "start"}` : "Seek the replay here"}
        >
          <span class="at">{where ? (place.outside === "after" ? "end+" : "start−") : clock(at - playback.start)}</span>
          {children}
          {where && <span class="tag outside">{where}</span>}
        </button>
        {aside}
      </div>
      {expanded}
    </li>
  );
}

function Toggle({ open, onClick, label }: { open: boolean; onClick: () => void; label: string }) {
  return (
    <button type="button" class="toggle" aria-expanded={open} aria-label={label} title={label} onClick={onClick}>
      {open ? "▾" : "▸"}
    </button>
  );
}

const LEVELS = ["debug", "info", "warn", "error"];

/** A console message's text; JSON (a logged object) pretty-printed. */
function logged(body: string): string {
  const text = body.trim();
  if (!/^[[{]/.test(text)) return body;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return body;
  }
}

function ConsolePanel({ lines, playback }: { lines: ConsoleLine[]; playback: Playback }) {
  const [levels, setLevels] = useState<Set<string>>(new Set(LEVELS));
  const [needle, setNeedle] = useState("");
  const [open, setOpen] = useState<number | null>(null);
  const shown = useMemo(() => {
    const text = needle.toLowerCase();
    return lines.filter(
      (l) => levels.has(LEVELS.includes(l.level) ? l.level : "info") && (!text || l.body.toLowerCase().includes(text)),
    );
  }, [lines, levels, needle]);
  const times = useMemo(() => shown.map((l) => l.time_ns / 1e6), [shown]);
  const { current, list } = useFollow(times, playback);
  const flip = (level: string) =>
    setLevels((old) => {
      const next = new Set(old);
      if (next.has(level)) next.delete(level);
      else next.add(level);
      return next;
    });
  return (
    <div class="panel-body">
      <div class="panel-tools">
        {LEVELS.map((level) => (
          <label key={level} class={`level-toggle ${level}`}>
            <input type="checkbox" checked={levels.has(level)} onChange={() => flip(level)} /> {level}
          </label>
        ))}
        <input
          type="search"
          placeholder="Filter messages"
          aria-label="Filter console messages"
          value={needle}
          onInput={(e) => setNeedle(e.currentTarget.value)}
        />
      </div>
      {shown.length === 0 && <p class="muted">No console messages{lines.length ? " match" : ""}.</p>}
      <ol class="rows" ref={list}>
        {shown.map((line, i) => (
          <SeekRow
            key={i}
            index={i}
            current={current}
            at={times[i]}
            playback={playback}
            class={`log ${line.level}`}
            aside={<Toggle open={open === i} label="Details" onClick={() => setOpen(open === i ? null : i)} />}
            expanded={
              open === i && (
                <div class="detail">
                  <pre class="code">{logged(line.body)}</pre>
                  {Object.keys(line.attributes ?? {}).length > 0 && <Attributes values={line.attributes} />}
                  <h4>Stack</h4>
                  <Frames frames={line.frames} />
                </div>
              )
            }
          >
            <span class="level">{line.severity_text || line.level}</span>
            <span class="body">{line.body}</span>
          </SeekRow>
        ))}
      </ol>
    </div>
  );
}

function NetworkPanel({ requests, playback, selection }: {
  requests: NetworkRequest[];
  playback: Playback;
  selection: Selection;
}) {
  const asked = useMemo(() => {
    const i = requests.findIndex(
      (r) =>
        (selection.request && r.request_id === selection.request) ||
        (selection.trace && (r.backend_trace_id === selection.trace || r.trace_id === selection.trace)),
    );
    return i >= 0 ? i : null;
  }, [requests, selection.request, selection.trace]);
  const [open, setOpen] = useState<number | null>(asked);
  useEffect(() => setOpen(asked), [asked]);
  const times = useMemo(() => requests.map((r) => r.start_ms), [requests]);
  const { current, list } = useFollow(times, playback, asked);
  if (!requests.length) return <p class="muted">No network requests were recorded.</p>;
  return (
    <ol class="rows" ref={list}>
      {requests.map((r, i) => (
        <SeekRow
          key={i}
          index={i}
          current={current}
          at={r.start_ms}
          playback={playback}
          class={`request ${r.status && r.status >= 400 ? "failed" : ""} ${i === asked ? "asked" : ""}`}
          aside={<Toggle open={open === i} label="Details" onClick={() => setOpen(open === i ? null : i)} />}
          expanded={open === i && <RequestDetail request={r} />}
        >
          <span class="method">{r.method ?? r.initiator_type ?? ""}</span>
          <span class="status">{r.status ?? "–"}</span>
          <span class="body" title={r.url}>
            {shortPath(r.url)}
          </span>
          <span class="dur">{duration(r.duration_ms)}</span>
          {r.backend_trace_id && <span class="tag">trace</span>}
        </SeekRow>
      ))}
    </ol>
  );
}

const shortPath = (url: string) => {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
};

function Headers({ title, headers }: { title: string; headers: Record<string, unknown> | null }) {
  const entries = Object.entries(headers ?? {});
  return (
    <div class="detail-block">
      <h4>{title}</h4>
      {entries.length === 0 ? (
        <p class="muted">none recorded</p>
      ) : (
        <dl class="kv">
          {entries.map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>{asText(v)}</dd>
            </>
          ))}
        </dl>
      )}
    </div>
  );
}

function Body({ title, body }: { title: string; body: unknown }) {
  const text = asText(body);
  return (
    <div class="detail-block">
      <h4>{title}</h4>
      {text ? <pre class="code">{text}</pre> : <p class="muted">none recorded</p>}
    </div>
  );
}

function RequestDetail({ request }: { request: NetworkRequest }) {
  return (
    <div class="detail">
      <dl class="kv">
        <dt>URL</dt>
        <dd>{request.url}</dd>
        <dt>Method</dt>
        <dd>{request.method ?? "–"}</dd>
        <dt>Status</dt>
        <dd>{request.status ?? "–"}</dd>
        <dt>Started</dt>
        <dd>{timeOfDay(request.start_ms)}</dd>
        <dt>Duration</dt>
        <dd>{duration(request.duration_ms)}</dd>
        <dt>Size</dt>
        <dd>{bytes(request.response_size ?? request.transfer_size)}</dd>
        {request.request_id && (
          <>
            <dt>Request id</dt>
            <dd>{request.request_id}</dd>
          </>
        )}
        <dt>Backend trace</dt>
        <dd>
          {request.backend_trace_id ? (
            <Link href={`/traces/${encodeURIComponent(request.backend_trace_id)}`}>{request.backend_trace_id}</Link>
          ) : (
            "none received"
          )}
        </dd>
      </dl>
      <Headers title="Request headers" headers={request.request_headers} />
      <Body title="Request body" body={request.request_body} />
      <Headers title="Response headers" headers={request.response_headers} />
      <Body title="Response body" body={request.response_body} />
    </div>
  );
}

function ErrorsPanel({ errors, playback, selected }: { errors: SessionError[]; playback: Playback; selected: string | null }) {
  const times = useMemo(() => errors.map((e) => e.time_ns / 1e6), [errors]);
  const asked = useMemo(() => {
    const i = selected ? errors.findIndex((e) => e.error_id === selected) : -1;
    return i >= 0 ? i : null;
  }, [errors, selected]);
  const { current, list } = useFollow(times, playback, asked);
  const [open, setOpen] = useState<number | null>(asked ?? (errors.length === 1 ? 0 : null));
  useEffect(() => {
    if (asked !== null) setOpen(asked);
  }, [asked]);
  if (!errors.length) return <p class="muted">No errors in this session.</p>;
  return (
    <ol class="rows" ref={list}>
      {errors.map((e, i) => (
        <SeekRow
          key={e.error_id}
          index={i}
          current={current}
          at={times[i]}
          playback={playback}
          class={`error-row ${i === asked ? "asked" : ""}`}
          aside={<Toggle open={open === i} label="Stack" onClick={() => setOpen(open === i ? null : i)} />}
          expanded={
            open === i && (
              <>
                <div class="links">
                  {e.group_id && (
                    <Link href={`/errors/${encodeURIComponent(e.group_id)}?error=${encodeURIComponent(e.error_id)}`}>Error group</Link>
                  )}
                  {e.trace_id && <Link href={traceHref(e.trace_id, e.span_id)}>Trace</Link>}
                  <span class="muted small">{e.source}{e.service_name ? ` · ${e.service_name}` : ""}</span>
                </div>
                <Frames frames={e.frames} stack={e.stack} />
              </>
            )
          }
        >
          <span class="type">{e.type || e.source}</span>
          <span class="body">{e.message}</span>
        </SeekRow>
      ))}
    </ol>
  );
}

/** Backend log lines linked to the session through its traces. */
function LogsPanel({ lines, playback }: { lines: LogLine[]; playback: Playback }) {
  const times = useMemo(() => lines.map((l) => l.time_ns / 1e6), [lines]);
  const { current, list } = useFollow(times, playback);
  const [open, setOpen] = useState<number | null>(null);
  if (!lines.length) {
    return <p class="muted">No backend log lines are linked to this session (through the traces its requests started).</p>;
  }
  return (
    <ol class="rows" ref={list}>
      {lines.map((line, i) => (
        <SeekRow
          key={i}
          index={i}
          current={current}
          at={times[i]}
          playback={playback}
          class={`log ${line.level}`}
          aside={<Toggle open={open === i} label="Details" onClick={() => setOpen(open === i ? null : i)} />}
          expanded={
            open === i && (
              <div class="detail">
                {line.body.includes("\n") && <pre class="code">{line.body}</pre>}
                <Attributes values={line.attributes} empty="no attributes" />
                <div class="links">
                  {line.trace_id && <Link href={traceHref(line.trace_id, line.span_id)}>Trace</Link>}
                  <span class="muted small">{line.service_name}</span>
                </div>
              </div>
            )
          }
        >
          <LevelTag level={line.level} />
          <span class="svc">{line.service_name || "–"}</span>
          <span class="body">{line.body}</span>
        </SeekRow>
      ))}
    </ol>
  );
}

function InfoPanel({ session }: { session: SessionDetail }) {
  const vitals = Object.entries(session.web_vitals ?? {});
  const rows: [string, unknown][] = [
    ["Session", session.session_id],
    ["Identifier", session.identifier],
    ["Started", dateTime(nsToMs(session.started_ns))],
    ["Length", duration(session.duration_ms)],
    ["Active time", duration(session.active_ms)],
    ["Pages", session.page_count],
    ["Clicks", session.click_count],
    ["Errors", session.error_count],
    ["Environment", session.environment],
    ["Service", session.service_name],
    ["App version", session.app_version],
    ["SDK", session.sdk_version ?? session.firstload_version],
    ["Privacy setting", session.privacy_setting],
    ["Browser", session.user_agent],
    ["Language", session.language],
    ["IP", session.ip],
    ["First URL", session.first_url],
    // the page that sent the session, as the browser said (any page may post to hl-local: see --allow-origin)
    ["Sent from", session.origin ?? (session.is_initialized ? "(no Origin sent)" : null)],
  ];
  return (
    <div class="session-info">
      <dl class="kv">
        {rows
          .filter(([, v]) => v !== null && v !== undefined && v !== "")
          .map(([k, v]) => (
            <>
              <dt>{k}</dt>
              <dd>{asText(v)}</dd>
            </>
          ))}
      </dl>
      <Section title="User">{session.user_object ? <pre class="code">{asText(session.user_object)}</pre> : null}</Section>
      <Section title="Properties">
        {session.properties && Object.keys(session.properties).length ? (
          <pre class="code">{asText(session.properties)}</pre>
        ) : null}
      </Section>
      <Section title="Web vitals">
        {vitals.length ? (
          <dl class="kv">
            {vitals.map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{k === "CLS" ? Number(v).toFixed(3) : duration(Number(v))}</dd>
              </>
            ))}
          </dl>
        ) : null}
      </Section>
      <Section title="Feedback">
        {session.feedback?.length ? (
          <ul class="feedback">
            {session.feedback.map((f, i) => (
              <li key={i}>
                <q>{f.verbatim}</q> — {f.user_name || f.user_email || "anonymous"}
              </li>
            ))}
          </ul>
        ) : null}
      </Section>
    </div>
  );
}

function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <div class="detail-block">
      <h4>{title}</h4>
      {children ?? <p class="muted">none</p>}
    </div>
  );
}
