// The panels next to the player: console, network, errors, logs and the session's details. Rows
// follow the play head (the current one marked, future ones dimmed) and seek it when clicked.
// Everything recorded is rendered as text nodes only.
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ConsoleLine, Frame, LogLine, NetworkRequest, SessionDetail, SessionError } from "../api.gen";
import { asText, clock, dateTime, duration, lastAtOrBefore, shortUrl } from "./data";

export interface Playback {
  start: number; // epoch ms of offset 0
  now: number; // offset of the play head, ms
  seek: (offset: number) => void;
}

function useFollow(times: number[], playback: Playback) {
  const current = lastAtOrBefore(times, playback.start + playback.now);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    list.current?.querySelector<HTMLElement>(`[data-index="${current}"]`)?.scrollIntoView({ block: "nearest" });
  }, [current]);
  return { current, list };
}

function Row(props: {
  index: number;
  current: number;
  at: number;
  playback: Playback;
  class?: string;
  children: ComponentChildren;
  more?: ComponentChildren;
}) {
  const { index, current, at, playback } = props;
  const state = index === current ? "current" : at > playback.start + playback.now ? "future" : "past";
  const [open, setOpen] = useState(false);
  return (
    <li class={`x-row ${state} ${props.class ?? ""}`} data-index={index}>
      <div class="x-line">
        <button type="button" class="x-seek" title="Seek the replay here" onClick={() => playback.seek(at - playback.start)}>
          <span class="x-at">{clock(at - playback.start)}</span>
          {props.children}
        </button>
        {props.more && (
          <button type="button" class="x-toggle" aria-expanded={open} aria-label="Details" onClick={() => setOpen(!open)}>
            {open ? "▾" : "▸"}
          </button>
        )}
      </div>
      {open && props.more}
    </li>
  );
}

export function ConsolePanel({ lines, playback }: { lines: ConsoleLine[]; playback: Playback }) {
  const [needle, setNeedle] = useState("");
  const shown = useMemo(
    () => lines.filter((l) => !needle || l.body.toLowerCase().includes(needle.toLowerCase())),
    [lines, needle],
  );
  const times = useMemo(() => shown.map((l) => l.time_ns / 1e6), [shown]);
  const { current, list } = useFollow(times, playback);
  return (
    <div class="x-panel-body">
      <input
        type="search"
        class="x-filter"
        placeholder="Filter messages"
        aria-label="Filter console messages"
        value={needle}
        onInput={(e) => setNeedle(e.currentTarget.value)}
      />
      {!shown.length && <p class="x-muted">No console messages{lines.length ? " match" : ""}.</p>}
      <ol class="x-rows" ref={list}>
        {shown.map((line, i) => (
          <Row
            key={i}
            index={i}
            current={current}
            at={times[i]}
            playback={playback}
            class={`x-level-${line.level}`}
            more={line.frames.length ? <Frames frames={line.frames} /> : undefined}
          >
            <span class="x-tag">{line.severity_text || line.level}</span>
            <span class="x-text">{line.body}</span>
          </Row>
        ))}
      </ol>
    </div>
  );
}

export function NetworkPanel(props: {
  requests: NetworkRequest[];
  playback: Playback;
  traceIds: Set<string>;
  showTrace: (traceId: string) => void;
}) {
  const { requests, playback } = props;
  const times = useMemo(() => requests.map((r) => r.start_ms), [requests]);
  const { current, list } = useFollow(times, playback);
  if (!requests.length) return <p class="x-muted">No network requests were recorded.</p>;
  return (
    <ol class="x-rows" ref={list}>
      {requests.map((r, i) => (
        <Row
          key={i}
          index={i}
          current={current}
          at={r.start_ms}
          playback={playback}
          class={r.status && r.status >= 400 ? "x-failed" : ""}
          more={<RequestDetail request={r} {...props} />}
        >
          <span class="x-tag">{r.method ?? r.initiator_type}</span>
          <span class="x-status">{r.status ?? "–"}</span>
          <span class="x-text" title={r.url}>
            {shortUrl(r.url)}
          </span>
          <span class="x-dur">{duration(r.duration_ms)}</span>
        </Row>
      ))}
    </ol>
  );
}

function RequestDetail({ request, traceIds, showTrace }: {
  request: NetworkRequest;
  traceIds: Set<string>;
  showTrace: (traceId: string) => void;
}) {
  const trace = request.backend_trace_id;
  return (
    <div class="x-detail">
      <Pairs
        rows={[
          ["URL", request.url],
          ["Status", request.status],
          ["Duration", duration(request.duration_ms)],
          ["Request id", request.request_id],
        ]}
      />
      {trace && traceIds.has(trace) && (
        <button type="button" class="x-link" onClick={() => showTrace(trace)}>
          Backend trace {trace.slice(0, 8)}… ›
        </button>
      )}
      <h4>Request headers</h4>
      <Pairs rows={Object.entries(request.request_headers ?? {})} />
      <h4>Request body</h4>
      <Text value={request.request_body} />
      <h4>Response headers</h4>
      <Pairs rows={Object.entries(request.response_headers ?? {})} />
      <h4>Response body</h4>
      <Text value={request.response_body} />
    </div>
  );
}

export function ErrorsPanel({ errors, playback }: { errors: SessionError[]; playback: Playback }) {
  const times = useMemo(() => errors.map((e) => e.time_ns / 1e6), [errors]);
  const { current, list } = useFollow(times, playback);
  if (!errors.length) return <p class="x-muted">No errors in this session.</p>;
  return (
    <ol class="x-rows" ref={list}>
      {errors.map((e, i) => (
        <Row
          key={e.error_id}
          index={i}
          current={current}
          at={times[i]}
          playback={playback}
          class="x-level-error"
          more={<Frames frames={e.frames} stack={e.stack} />}
        >
          <span class="x-tag">{e.type || e.source}</span>
          <span class="x-text">{e.message}</span>
        </Row>
      ))}
    </ol>
  );
}

export function LogsPanel({ logs, playback }: { logs: LogLine[]; playback: Playback | null }) {
  if (!logs.length) return <p class="x-muted">No log lines.</p>;
  return (
    <ol class="x-rows">
      {logs.map((l, i) => (
        <li key={i} class={`x-row x-level-${l.level}`}>
          <div class="x-line">
            <button
              type="button"
              class="x-seek"
              disabled={!playback}
              onClick={() => playback?.seek(l.time_ns / 1e6 - playback.start)}
            >
              <span class="x-at">{playback ? clock(l.time_ns / 1e6 - playback.start) : dateTime(l.time_ns / 1e6)}</span>
              <span class="x-tag">{l.level}</span>
              <span class="x-service">{l.service_name}</span>
              <span class="x-text">{l.body}</span>
            </button>
          </div>
        </li>
      ))}
    </ol>
  );
}

export function InfoPanel({ session }: { session: SessionDetail }) {
  return (
    <div class="x-detail">
      <Pairs
        rows={[
          ["Session", session.session_id],
          ["Identifier", session.identifier],
          ["Started", dateTime(session.started_ns / 1e6)],
          ["Length", duration(session.duration_ms)],
          ["Active time", duration(session.active_ms)],
          ["Pages", session.page_count],
          ["Clicks", session.click_count],
          ["Environment", session.environment],
          ["Service", session.service_name],
          ["App version", session.app_version],
          ["SDK", session.sdk_version],
          ["Browser", session.user_agent],
          ["First URL", session.first_url],
          ...Object.entries(session.web_vitals ?? {}).map(([k, v]): [string, unknown] => [k, v]),
        ]}
      />
      {session.user_object && (
        <>
          <h4>User</h4>
          <Text value={session.user_object} />
        </>
      )}
      {session.feedback.map((f, i) => (
        <p key={i}>
          Feedback: <q>{f.verbatim}</q> — {f.user_name || f.user_email || "anonymous"}
        </p>
      ))}
    </div>
  );
}

export function Pairs({ rows }: { rows: [string, unknown][] }) {
  const shown = rows.filter(([, v]) => v !== null && v !== undefined && v !== "");
  if (!shown.length) return <p class="x-muted">none recorded</p>;
  return (
    <dl class="x-kv">
      {shown.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{asText(v)}</dd>
        </>
      ))}
    </dl>
  );
}

function Text({ value }: { value: unknown }) {
  const text = asText(value);
  return text ? <pre class="x-code">{text}</pre> : <p class="x-muted">none recorded</p>;
}

export function Frames({ frames, stack }: { frames: Frame[]; stack?: string }) {
  if (!frames.length) return stack ? <pre class="x-code">{stack}</pre> : <p class="x-muted">no stack</p>;
  return (
    <ol class="x-frames">
      {frames.map((f, i) => (
        <li key={i}>
          <span class="x-fn">{f.function || "(anonymous)"}</span>{" "}
          <span class="x-muted">
            {f.file}
            {f.line !== null ? `:${f.line}` : ""}
            {f.column !== null ? `:${f.column}` : ""}
          </span>
          {f.source && <pre class="x-code">{f.source}</pre>}
        </li>
      ))}
    </ol>
  );
}
