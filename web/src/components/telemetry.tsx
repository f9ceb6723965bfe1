// Pieces every telemetry view shows the same way: log lines, levels, attributes, stack frames, and
// links to a trace or to a session's replay at a moment. Recorded text is only ever JSX text.
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, type Frame, type FrameContext, type LogLine, type SourcedFrame, getApi } from "../api";
import { asText, clock, dateTime, timeOfDay } from "../format";
import { Link } from "./Link";

export const LEVELS = ["error", "warn", "info", "debug"] as const;

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

/** `query` with `key=value` added (quoted when the value needs it), for a click-to-filter link. */
export function addFilter(query: string, key: string, value: string): string {
  const plain = /^[^\s()"'`=:<>!]+$/.test(value) && !/^(and|or|not|exists)$/i.test(value);
  const quoted = plain ? value : `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const filter = `${key}=${quoted}`;
  return query.trim() ? `${query.trim()} ${filter}` : filter;
}

/** Where a click on an attribute value goes: the list of that signal filtered by it (and the range). */
export type FilterHref = (key: string, value: string) => string;

/** The search language reaches only keys made of these characters (compile.py). */
const SEARCHABLE_KEY = /^[A-Za-z0-9_.\-]+$/;

/** Attributes as a key/value list; nested values as JSON text (never as HTML). With `filter`, a scalar
 * value is a link to the list filtered by `key=value`. */
export function Attributes({ values, empty = "none", filter }: {
  values: Record<string, unknown> | null | undefined;
  empty?: string;
  filter?: FilterHref;
}) {
  const entries = Object.entries(values ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return <p class="muted small">{empty}</p>;
  return (
    <dl class="kv">
      {entries.map(([key, value]) => {
        const scalar = typeof value === "string" || typeof value === "number" || typeof value === "boolean";
        const text = asText(value);
        return (
          <Fragment key={key}>
            <dt>{key}</dt>
            <dd>
              {filter && scalar && SEARCHABLE_KEY.test(key) && text !== "" ? (
                <Link href={filter(key, String(value))} class="filter-value" title={`Filter by ${key}=${text}`}>
                  {text}
                </Link>
              ) : (
                text
              )}
            </dd>
          </Fragment>
        );
      })}
    </dl>
  );
}

// ---------------------------------------------------------------- service colours

const PALETTE = ["#4f7fe8", "#2e9e6a", "#d9822b", "#9b63dc", "#d24d74", "#2aa3b3", "#a8962a", "#7a8595",
  "#c0582f", "#3f8f3a", "#5e6fd8", "#b5478f"];

/** A colour per service name, the same on every page and every visit (a hash of the name). */
export function colourOf(service: string | null | undefined): string {
  const name = service || "";
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return PALETTE[(hash >>> 0) % PALETTE.length];
}

export function ServiceDot({ service }: { service: string | null | undefined }) {
  return <span class="svc-dot" style={{ background: colourOf(service) }} aria-hidden="true" />;
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
      ? getApi("/api/sessions", { query: `secure_id=${id}`, limit: 1 }).then((p) => p.items.length > 0)
      : Promise.resolve(true);
    known = exists
      .then((found) =>
        found
          ? getApi("/api/sessions/{session_id}", { session_id: id }).then(
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

/** What a replay link opens besides the moment: a panel tab, and the item to select in it. */
export interface ReplayTarget {
  tab?: "console" | "network" | "errors" | "logs" | "info";
  error?: string | null; // an error id, in the Errors tab
  request?: string | null; // a recorded request's id, in the Network tab
  trace?: string | null; // the backend trace a recorded request started, in the Network tab
}

/** `/sessions/<id>` at the moment `t` (ms into the replay) with the tab and item of `target`. */
export function replayHref(sessionId: string, t: number | null, target: ReplayTarget = {}): string {
  const params = new URLSearchParams();
  if (t !== null) params.set("t", String(t));
  for (const [key, value] of Object.entries(target)) if (value) params.set(key, value);
  const search = params.toString();
  return `/sessions/${encodeURIComponent(sessionId)}` + (search ? `?${search}` : "");
}

/** A link to a session's replay at the moment `atNs` (backend telemetry can name a session id that no
 * browser ever recorded: then it says so instead of linking to a replay that does not exist). */
export function SessionLink({ sessionId, atNs, offsetMs, target }: {
  sessionId: string | null | undefined;
  atNs?: number | null;
  offsetMs?: number | null;
  target?: ReplayTarget;
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
  const href = replayHref(sessionId, t, target);
  return (
    <Link href={href} title={`Session ${sessionId}`}>
      {t !== null ? `Replay at ${clock(t)}` : "Session replay"}
    </Link>
  );
}

/** The session a line belongs to: its own, else the one its trace belongs to. */
export const sessionOf = (log: LogLine) => log.session_id || log.linked_session_id || null;

/** A log line's place in the replay: the Console tab for the browser's own lines, else Logs. */
export const logTarget = (log: LogLine): ReplayTarget => ({ tab: log.source === "frontend" ? "console" : "logs" });

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
            <SessionLink sessionId={sessionOf(log)} atNs={log.time_ns} target={logTarget(log)} />
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

/** A stack: each frame with its function and place, and, for frames the server found on this machine
 * (SourcedFrame, hl_local/source/), the lines around it, a link to open it in the editor, where a source
 * map took it from, and why a map or the lines are missing. The first frame with lines starts open. */
export function Frames({ frames, stack }: { frames: (Frame | SourcedFrame)[] | null; stack?: string | null }) {
  if (!frames?.length) return stack ? <pre class="code">{stack}</pre> : <p class="muted">no stack trace</p>;
  const opened = frames.findIndex((f) => sourcedOf(f)?.context?.status === "ok");
  return (
    <ol class="frames">
      {frames.map((f, i) => (
        <li key={i}>
          <FrameItem frame={f} open={i === opened} />
        </li>
      ))}
    </ol>
  );
}

const sourcedOf = (f: Frame | SourcedFrame): SourcedFrame | null => ("context" in f ? f : null);

const place = (f: Frame) => `${f.file ?? "?"}${f.line !== null ? `:${f.line}` : ""}${f.column !== null ? `:${f.column}` : ""}`;

function FrameItem({ frame, open }: { frame: Frame | SourcedFrame; open: boolean }) {
  const sourced = sourcedOf(frame);
  const context = sourced?.context ?? null;
  const map = sourced?.source_map ?? null;
  const head = (
    <span class="frame-head">
      <span class="fn">{frame.function || "(anonymous)"}</span>{" "}
      <span class="file" title={context?.path ?? undefined}>
        {place(frame)}
      </span>
      {context?.editor_url && (
        <a class="open-editor" href={context.editor_url} title={`Open ${context.path} in your editor`}>
          open
        </a>
      )}
    </span>
  );
  const notes = (
    <>
      {sourced?.generated && (
        <div class="frame-note" title={map?.detail ?? undefined}>
          mapped from {place(sourced.generated)}
          {map?.origin ? ` by ${map.origin}` : ""}
        </div>
      )}
      {map && map.status !== "applied" && (
        <div class="frame-note warn" title={`source map: ${map.status}`}>
          no source map applied: {map.detail}
        </div>
      )}
      {context && context.status !== "ok" && context.status !== "no_file" && (
        <div class="frame-note" title={`source: ${context.status}`}>
          source not shown: {context.detail}
        </div>
      )}
      {context?.modified_after && (
        <div class="frame-note warn">the file changed after this error: its lines may have moved</div>
      )}
    </>
  );
  if (context?.status !== "ok") {
    return (
      <>
        {head}
        {notes}
      </>
    );
  }
  return (
    <details class="frame-source" open={open}>
      <summary>{head}</summary>
      {notes}
      <SourceLines context={context} line={frame.line} />
    </details>
  );
}

/** The lines around a frame, numbered, the frame's own line marked (text only, never HTML). */
function SourceLines({ context, line }: { context: FrameContext; line: number | null }) {
  const first = context.first_line ?? 1;
  return (
    <pre class="source-lines" aria-label={`Source around line ${line ?? "?"}`}>
      {context.lines.map((text, i) => (
        <div key={i} class={first + i === line ? "hit" : undefined}>
          <span class="ln">{first + i}</span>
          {text || " "}
        </div>
      ))}
    </pre>
  );
}
