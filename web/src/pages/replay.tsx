// One session: the rrweb player (sandboxed, no scripts) with our own controls and timeline, and
// console, network, errors and metadata panels that follow the play head. `?t=<ms>` opens the
// replay at that moment (milliseconds from the start of the recording).
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import rrwebPlayer from "rrweb-player";
import {
  type ApiError,
  type ConsoleLine,
  type Marker,
  type NetworkRequest,
  type RrwebEvent,
  type SessionDetail,
  type SessionError,
  getApi,
} from "../api";
import { ExportLinks } from "../components/ExportLinks";
import { Link } from "../components/Link";
import { Tabs } from "../components/Tabs";
import { Frames } from "../components/telemetry";
import { useFetched } from "../fetched";
import { asText, bytes, clock, dateTime, duration, nsToMs, shortUrl, timeOfDay } from "../format";
import { useLive } from "../live";
import { carried, navigate, withParams } from "../router";
import { identity } from "./sessions";

const SPEEDS = [1, 2, 4, 8];
const TICK_MS = 100; // how often the panels follow the play head

interface Parts {
  session: SessionDetail;
  timeline: Marker[];
  console: ConsoleLine[];
  network: NetworkRequest[];
  errors: SessionError[];
}

async function loadParts(id: string, signal: AbortSignal): Promise<Parts> {
  const ids = { session_id: id };
  const [session, timeline, console, network, errors] = await Promise.all([
    getApi("/api/sessions/{session_id}", ids, signal),
    getApi("/api/sessions/{session_id}/timeline", ids, signal),
    getApi("/api/sessions/{session_id}/console", ids, signal),
    getApi("/api/sessions/{session_id}/network", ids, signal),
    getApi("/api/sessions/{session_id}/errors", ids, signal),
  ]);
  return { session, timeline: timeline.items, console: console.items, network: network.items, errors: errors.items };
}

const failureText = (e: ApiError) => (e.status === 404 ? "No such session." : e.message);

/** The index of the last item at or before `at` (items sorted by time), or -1. */
function lastAtOrBefore(times: number[], at: number): number {
  let lo = 0;
  let hi = times.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= at) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Controls what the player shows; the panels and the timeline call it to seek. */
interface Playback {
  start: number; // epoch ms of the first event: offset 0
  total: number;
  now: number; // offset of the play head, ms
  playing: boolean;
  seek: (offset: number) => void;
}

function usePlayer(events: RrwebEvent[] | null, rest: RrwebEvent[] | null, initialOffset: number) {
  const host = useRef<HTMLDivElement>(null);
  const player = useRef<rrwebPlayer | null>(null);
  const [now, setNow] = useState(initialOffset);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeedState] = useState(1);
  const [skip, setSkip] = useState(true);
  const [skipping, setSkipping] = useState(false);
  const latest = useRef(initialOffset);

  useEffect(() => {
    const target = host.current;
    if (!target || !events || events.length < 2) return;
    const { width, height } = target.getBoundingClientRect();
    const instance = new rrwebPlayer({
      target,
      props: {
        events: events as never,
        width: Math.max(320, Math.floor(width)),
        height: Math.max(200, Math.floor(height)),
        autoPlay: false,
        showController: false,
        skipInactive: true,
        speed: 1,
        mouseTail: false,
        UNSAFE_replayCanvas: false, // never: it would let the recorded page run scripts
      },
    });
    player.current = instance;
    instance.addEventListener("ui-update-current-time", (event: unknown) => {
      latest.current = (event as { payload: number }).payload;
    });
    instance.addEventListener("ui-update-player-state", (event: unknown) => {
      setPlaying((event as { payload: string }).payload === "playing");
    });
    const replayer = instance.getReplayer();
    replayer.on("skip-start", () => setSkipping(true));
    replayer.on("skip-end", () => setSkipping(false));
    // rrweb draws the first full snapshot by itself; a paused seek to 0 would blank it instead
    if (initialOffset > 0) instance.goto(initialOffset, false);
    latest.current = initialOffset;
    setNow(initialOffset);
    const ticker = window.setInterval(() => setNow(latest.current), TICK_MS);
    const resize = new ResizeObserver(() => {
      const box = target.getBoundingClientRect();
      (instance as unknown as { $set: (p: object) => void }).$set({
        width: Math.max(320, Math.floor(box.width)),
        height: Math.max(200, Math.floor(box.height)),
      });
      instance.triggerResize();
    });
    resize.observe(target);
    return () => {
      clearInterval(ticker);
      resize.disconnect();
      instance.pause();
      (instance as unknown as { $destroy: () => void }).$destroy();
      player.current = null;
      target.replaceChildren();
    };
  }, [events]);
  useEffect(() => {
    const p = player.current;
    if (!p || !rest?.length) return;
    for (const event of rest) p.addEvent(event as never);
    // a moment asked for past the first window can only be shown now that it is here
    if (initialOffset > FIRST_WINDOW_MS && latest.current === initialOffset) p.goto(initialOffset, false);
  }, [rest, events]);

  const seek = (offset: number) => {
    const p = player.current;
    if (!p) return;
    // at least 1 ms: a paused seek to exactly 0 leaves rrweb with an empty page
    const to = Math.max(1, offset);
    p.goto(to, playing);
    latest.current = to;
    setNow(to);
  };
  const toggle = () => player.current?.toggle();
  const setSpeed = (value: number) => {
    player.current?.setSpeed(value);
    setSpeedState(value);
  };
  const toggleSkip = () => {
    player.current?.toggleSkipInactive();
    setSkip((s) => !s);
  };
  return { host, now, playing, speed, skip, skipping, seek, toggle, setSpeed, toggleSkip };
}

const FIRST_WINDOW_MS = 60_000; // loaded before the player starts; the rest streams in behind it

/** The recording: its first minute at once (the first frame comes quickly even for long sessions),
 * then everything after it, added to the running player as it arrives. */
function useRecording(sessionId: string) {
  const head = useFetched(
    async (signal) => {
      const session = await getApi("/api/sessions/{session_id}", { session_id: sessionId }, signal);
      const firstMs = session.first_event_ms ?? 0;
      const cut = firstMs + FIRST_WINDOW_MS;
      const args = { session_id: sessionId, ...(firstMs ? { to_ms: cut } : {}) };
      const events = await getApi("/api/sessions/{session_id}/events", args, signal);
      return { events, restFrom: firstMs && (session.last_event_ms ?? 0) > cut ? cut : null };
    },
    [sessionId],
  );
  const tail = useFetched(
    async (signal) => {
      const cut = head.data?.restFrom ?? null;
      if (cut === null) return head.data ? [] : null; // nothing after the first window (or not yet)
      const args = { session_id: sessionId, from_ms: cut + 1 };
      const events = await getApi("/api/sessions/{session_id}/events", args, signal);
      return events.filter((e) => e.timestamp > cut); // from_ms starts at a keyframe before it
    },
    [sessionId, head.data],
  );
  return { first: head.data?.events ?? null, rest: tail.data, failure: head.error ?? tail.error };
}

export function SessionPage({ sessionId, params }: { sessionId: string; params: URLSearchParams }) {
  const fetchedParts = useFetched((signal) => loadParts(sessionId, signal), [sessionId]);
  const parts = fetchedParts.data;
  const initial = useMemo(() => Math.max(0, Number(params.get("t") ?? 0) || 0), [sessionId]);
  useLive(["sessions", "errors", "network"], () => {
    if (parts?.session.live) fetchedParts.reload();
  }, 3000);

  const { first, rest, failure: recordingFailure } = useRecording(sessionId);
  const failed = fetchedParts.error ?? recordingFailure;
  const failure = failed ? failureText(failed) : null;
  const events = first;
  const player = usePlayer(first, rest, initial);
  const start = first?.length ? first[0].timestamp : (parts?.session.first_event_ms ?? 0);
  const last = rest?.length ? rest[rest.length - 1] : first?.[first.length - 1];
  const total = last ? last.timestamp - start : 0;
  const playback: Playback = { start, total, now: player.now, playing: player.playing, seek: player.seek };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (/INPUT|TEXTAREA|SELECT/.test(target.tagName) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (e.key === " " || e.key === "k") {
        e.preventDefault();
        player.toggle();
      } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        e.preventDefault();
        player.seek(player.now + (e.key === "ArrowLeft" ? -5000 : 5000));
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  if (failure) {
    return (
      <section class="page">
        <p class="error-note">{failure}</p>
        <Link href={carried("/sessions")}>← Sessions</Link>
      </section>
    );
  }
  const session = parts?.session;
  return (
    <section class="page replay-page">
      <div class="replay-head">
        <Link href={carried("/sessions")} class="back">
          ← Sessions
        </Link>
        <h1>{session ? identity(session) : "…"}</h1>
        {session?.live && <span class="tag live">live</span>}
        <span class="muted">{session ? dateTime(nsToMs(session.started_ns)) : ""}</span>
        <span class="muted" title={session?.first_url ?? ""}>
          {shortUrl(session?.first_url)}
        </span>
        <ExportLinks session={sessionId} formats={["html", "duckdb"]} />
      </div>
      <div class="replay-body">
        <div class="stage">
          <div class="player-host" ref={player.host} data-testid="player">
            {!events && <p class="muted loading">Loading the recording…</p>}
            {events && events.length < 2 && <p class="muted loading">Nothing was recorded in this session.</p>}
          </div>
          {player.skipping && <div class="skipping">Skipping inactivity…</div>}
          <Controls player={player} playback={playback} sessionId={sessionId} />
          <Timeline playback={playback} markers={parts?.timeline ?? []} />
        </div>
        <Panels parts={parts} playback={playback} />
      </div>
    </section>
  );
}

function Controls({ player, playback, sessionId }: {
  player: ReturnType<typeof usePlayer>;
  playback: Playback;
  sessionId: string;
}) {
  const [copied, setCopied] = useState(false);
  const shareMoment = () => {
    const link = withParams({ t: String(Math.round(playback.now)) }, `/sessions/${encodeURIComponent(sessionId)}`);
    navigate(link, true);
    navigator.clipboard?.writeText(location.origin + link).then(
      () => setCopied(true),
      () => setCopied(false),
    );
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="controls">
      <button type="button" class="play" onClick={player.toggle} aria-label={player.playing ? "Pause" : "Play"}>
        {player.playing ? "❚❚" : "▶"}
      </button>
      <span class="time" aria-label="Play head">
        {clock(playback.now)} / {clock(playback.total)}
      </span>
      <label class="speed">
        Speed
        <select value={player.speed} onChange={(e) => player.setSpeed(Number(e.currentTarget.value))}>
          {SPEEDS.map((s) => (
            <option key={s} value={s}>
              {s}×
            </option>
          ))}
        </select>
      </label>
      <label class="skip">
        <input type="checkbox" checked={player.skip} onChange={player.toggleSkip} /> Skip inactivity
      </label>
      <button type="button" onClick={shareMoment} title="Put this moment in the URL and copy it">
        {copied ? "Copied" : "Link to this moment"}
      </button>
    </div>
  );
}

function Timeline({ playback, markers }: { playback: Playback; markers: Marker[] }) {
  const bar = useRef<HTMLDivElement>(null);
  const { total, start, now } = playback;
  const fraction = (offset: number) => (total > 0 ? Math.min(1, Math.max(0, offset / total)) : 0);
  const seekTo = (clientX: number) => {
    const box = bar.current!.getBoundingClientRect();
    playback.seek(((clientX - box.left) / box.width) * total);
  };
  return (
    <div
      class="timeline"
      ref={bar}
      role="slider"
      tabIndex={0}
      aria-label="Timeline"
      aria-valuemin={0}
      aria-valuemax={Math.round(total)}
      aria-valuenow={Math.round(now)}
      aria-valuetext={clock(now)}
      onPointerDown={(e) => {
        if ((e.target as HTMLElement).closest(".marker")) return;
        e.currentTarget.setPointerCapture(e.pointerId);
        seekTo(e.clientX);
      }}
      onPointerMove={(e) => {
        if (e.currentTarget.hasPointerCapture(e.pointerId)) seekTo(e.clientX);
      }}
    >
      <div class="track" />
      <div class="progress" style={{ width: `${fraction(now) * 100}%` }} />
      {markers.map((m, i) => (
        <button
          type="button"
          key={i}
          class={`marker ${m.kind}`}
          style={{ left: `${fraction(m.time_ms - start) * 100}%` }}
          title={`${clock(m.time_ms - start)} ${m.kind}: ${m.label}`}
          aria-label={`${m.kind} at ${clock(m.time_ms - start)}: ${m.label}`}
          onClick={() => playback.seek(m.time_ms - start)}
        />
      ))}
    </div>
  );
}

type Tab = "console" | "network" | "errors" | "info";

function Panels({ parts, playback }: { parts: Parts | null; playback: Playback }) {
  const [tab, setTab] = useState<Tab>("console");
  const tabs: [Tab, string, number | null][] = [
    ["console", "Console", parts?.console.length ?? null],
    ["network", "Network", parts?.network.length ?? null],
    ["errors", "Errors", parts?.errors.length ?? null],
    ["info", "Info", null],
  ];
  return (
    <aside class="panels">
      <Tabs tabs={tabs} current={tab} onChange={setTab} />
      <div class="panel" role="tabpanel">
        {!parts ? (
          <p class="muted">Loading…</p>
        ) : tab === "console" ? (
          <ConsolePanel lines={parts.console} playback={playback} />
        ) : tab === "network" ? (
          <NetworkPanel requests={parts.network} playback={playback} />
        ) : tab === "errors" ? (
          <ErrorsPanel errors={parts.errors} playback={playback} />
        ) : (
          <InfoPanel session={parts.session} />
        )}
      </div>
    </aside>
  );
}

/** Rows that follow the play head: past rows plain, the current one marked, future ones dimmed. */
function useFollow(times: number[], playback: Playback) {
  const current = lastAtOrBefore(times, playback.start + playback.now);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    const row = list.current?.querySelector<HTMLElement>(`[data-index="${current}"]`);
    row?.scrollIntoView({ block: "nearest" });
  }, [current]);
  return { current, list };
}

const LEVELS = ["debug", "info", "warn", "error"];

function ConsolePanel({ lines, playback }: { lines: ConsoleLine[]; playback: Playback }) {
  const [levels, setLevels] = useState<Set<string>>(new Set(LEVELS));
  const [needle, setNeedle] = useState("");
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
          <SeekRow key={i} index={i} current={current} at={times[i]} playback={playback} class={`log ${line.level}`}>
            <span class="level">{line.severity_text || line.level}</span>
            <span class="body">{line.body}</span>
          </SeekRow>
        ))}
      </ol>
    </div>
  );
}

function SeekRow({ index, current, at, playback, children, class: className, aside, expanded }: {
  index: number;
  current: number;
  at: number;
  playback: Playback;
  children: ComponentChildren;
  class?: string;
  aside?: ComponentChildren; // on the row's line, after the seek button
  expanded?: ComponentChildren; // below it
}) {
  const state = index === current ? "current" : at > playback.start + playback.now ? "future" : "past";
  return (
    <li class={`seek-row ${state} ${className ?? ""}`} data-index={index}>
      <div class="line">
        <button type="button" class="seek" onClick={() => playback.seek(at - playback.start)} title="Seek the replay here">
          <span class="at">{clock(at - playback.start)}</span>
          {children}
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

function NetworkPanel({ requests, playback }: { requests: NetworkRequest[]; playback: Playback }) {
  const [open, setOpen] = useState<number | null>(null);
  const times = useMemo(() => requests.map((r) => r.start_ms), [requests]);
  const { current, list } = useFollow(times, playback);
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
          class={`request ${r.status && r.status >= 400 ? "failed" : ""}`}
          aside={<Toggle open={open === i} label="Details" onClick={() => setOpen(open === i ? null : i)} />}
          expanded={open === i && <RequestDetail request={r} />}
        >
          <span class="method">{r.method ?? r.initiator_type ?? ""}</span>
          <span class="status">{r.status ?? "–"}</span>
          <span class="body" title={r.url}>
            {shortUrl(r.url)}
          </span>
          <span class="dur">{duration(r.duration_ms)}</span>
          {r.backend_trace_id && <span class="tag">trace</span>}
        </SeekRow>
      ))}
    </ol>
  );
}

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

function ErrorsPanel({ errors, playback }: { errors: SessionError[]; playback: Playback }) {
  const times = useMemo(() => errors.map((e) => e.time_ns / 1e6), [errors]);
  const { current, list } = useFollow(times, playback);
  const [open, setOpen] = useState<number | null>(errors.length === 1 ? 0 : null);
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
          class="error-row"
          aside={<Toggle open={open === i} label="Stack" onClick={() => setOpen(open === i ? null : i)} />}
          expanded={
            open === i && (
              <>
                <div class="links">
                  {e.group_id && <Link href={`/errors/${encodeURIComponent(e.group_id)}`}>Error group</Link>}
                  {e.trace_id && <Link href={`/traces/${encodeURIComponent(e.trace_id)}`}>Trace</Link>}
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
    ["Environment", session.environment],
    ["Service", session.service_name],
    ["App version", session.app_version],
    ["SDK", session.sdk_version ?? session.firstload_version],
    ["Privacy setting", session.privacy_setting],
    ["Browser", session.user_agent],
    ["Language", session.language],
    ["IP", session.ip],
    ["First URL", session.first_url],
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
