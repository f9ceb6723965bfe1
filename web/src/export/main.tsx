// An exported session (or trace), opened from a file: no server, no network. The replay plays in
// rrweb-player's sandboxed iframe (never UNSAFE_replayCanvas: recorded scripts cannot run; the
// page's Content-Security-Policy only lets this bundle's own hash run at all), and the panels and
// the traces show the API's answers as they were when the file was made.
import "rrweb-player/dist/style.css";
import "./export.css";
import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import rrwebPlayer from "rrweb-player";
import type { RrwebEvent } from "../api.gen";
import { clock, dateTime, duration, type Exported, load, type Marker, shortUrl } from "./data";
import { ConsolePanel, ErrorsPanel, InfoPanel, LogsPanel, NetworkPanel, type Playback } from "./panels";
import { TraceView } from "./waterfall";

const SPEEDS = [1, 2, 4, 8];

function usePlayer(events: RrwebEvent[]) {
  const host = useRef<HTMLDivElement>(null);
  const player = useRef<rrwebPlayer | null>(null);
  const latest = useRef(0);
  const [now, setNow] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeedState] = useState(1);
  const [skip, setSkip] = useState(true);
  useEffect(() => {
    const target = host.current;
    if (!target || events.length < 2) return;
    const box = target.getBoundingClientRect();
    const instance = new rrwebPlayer({
      target,
      props: {
        events: events as never,
        width: Math.max(320, Math.floor(box.width)),
        height: Math.max(200, Math.floor(box.height)),
        autoPlay: false,
        showController: false,
        skipInactive: true,
        mouseTail: false,
        UNSAFE_replayCanvas: false, // never: it would let the recorded page run scripts
      },
    });
    player.current = instance;
    instance.addEventListener("ui-update-current-time", (e: unknown) => {
      latest.current = (e as { payload: number }).payload;
    });
    instance.addEventListener("ui-update-player-state", (e: unknown) => {
      setPlaying((e as { payload: string }).payload === "playing");
    });
    const ticker = window.setInterval(() => setNow(latest.current), 100);
    const resize = new ResizeObserver(() => {
      const b = target.getBoundingClientRect();
      (instance as unknown as { $set: (p: object) => void }).$set({
        width: Math.max(320, Math.floor(b.width)),
        height: Math.max(200, Math.floor(b.height)),
      });
      instance.triggerResize();
    });
    resize.observe(target);
    return () => {
      clearInterval(ticker);
      resize.disconnect();
      instance.pause();
      (instance as unknown as { $destroy: () => void }).$destroy();
    };
  }, [events]);
  const seek = (offset: number) => {
    const to = Math.max(1, offset); // a paused seek to exactly 0 leaves rrweb with an empty page
    player.current?.goto(to, playing);
    latest.current = to;
    setNow(to);
  };
  return {
    host,
    now,
    playing,
    speed,
    skip,
    seek,
    toggle: () => player.current?.toggle(),
    setSpeed: (value: number) => {
      player.current?.setSpeed(value);
      setSpeedState(value);
    },
    toggleSkip: () => {
      player.current?.toggleSkipInactive();
      setSkip((s) => !s);
    },
  };
}

function Timeline({ playback, total, markers }: { playback: Playback; total: number; markers: Marker[] }) {
  const bar = useRef<HTMLDivElement>(null);
  const fraction = (offset: number) => (total > 0 ? Math.min(1, Math.max(0, offset / total)) : 0);
  const seekTo = (x: number) => {
    const box = bar.current!.getBoundingClientRect();
    playback.seek(((x - box.left) / box.width) * total);
  };
  return (
    <div
      class="x-timeline"
      ref={bar}
      role="slider"
      tabIndex={0}
      aria-label="Timeline"
      aria-valuemin={0}
      aria-valuemax={Math.round(total)}
      aria-valuenow={Math.round(playback.now)}
      aria-valuetext={clock(playback.now)}
      onPointerDown={(e) => {
        if ((e.target as HTMLElement).closest(".x-marker")) return;
        e.currentTarget.setPointerCapture(e.pointerId);
        seekTo(e.clientX);
      }}
      onPointerMove={(e) => {
        if (e.currentTarget.hasPointerCapture(e.pointerId)) seekTo(e.clientX);
      }}
    >
      <div class="x-progress" style={{ width: `${fraction(playback.now) * 100}%` }} />
      {markers.map((m, i) => (
        <button
          type="button"
          key={i}
          class={`x-marker x-${m.kind}`}
          style={{ left: `${fraction(m.time_ms - playback.start) * 100}%` }}
          title={`${clock(m.time_ms - playback.start)} ${m.kind}: ${m.label}`}
          aria-label={`${m.kind} at ${clock(m.time_ms - playback.start)}`}
          onClick={() => playback.seek(m.time_ms - playback.start)}
        />
      ))}
    </div>
  );
}

type Tab = "console" | "network" | "errors" | "traces" | "logs" | "info";

function SessionView({ data, events }: { data: Exported; events: RrwebEvent[] }) {
  const session = data.session!;
  const player = usePlayer(events);
  const start = events.length ? events[0].timestamp : (session.first_event_ms ?? 0);
  const total = events.length ? events[events.length - 1].timestamp - start : 0;
  const playback: Playback = { start, now: player.now, seek: player.seek };
  const [tab, setTab] = useState<Tab>("console");
  const [focused, setFocused] = useState<string | null>(null);
  const traceIds = useMemo(() => new Set(data.traces.map((t) => t.trace_id)), [data]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (/INPUT|TEXTAREA|SELECT/.test((e.target as HTMLElement).tagName)) return;
      if (e.key === " ") {
        e.preventDefault();
        player.toggle();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });
  const showTrace = (id: string) => {
    setFocused(id);
    setTab("traces");
    requestAnimationFrame(() => document.getElementById(`trace-${id}`)?.scrollIntoView({ block: "start" }));
  };
  const tabs: [Tab, string, number | null][] = [
    ["console", "Console", data.console.items.length],
    ["network", "Network", data.network.items.length],
    ["errors", "Errors", data.errors.items.length],
    ["traces", "Traces", data.traces.length],
    ["logs", "Logs", data.logs.items.length],
    ["info", "Info", null],
  ];
  return (
    <>
      <Header data={data} title={session.identifier || "anonymous"} />
      <main class="x-body">
        <section class="x-stage">
          <div class="x-player" ref={player.host} data-testid="player">
            {events.length < 2 && <p class="x-muted">Nothing was recorded in this session.</p>}
          </div>
          <div class="x-controls">
            <button type="button" class="x-play" aria-label={player.playing ? "Pause" : "Play"} onClick={player.toggle}>
              {player.playing ? "❚❚" : "▶"}
            </button>
            <span class="x-time" aria-label="Play head">
              {clock(player.now)} / {clock(total)}
            </span>
            <label>
              Speed{" "}
              <select value={player.speed} onChange={(e) => player.setSpeed(Number(e.currentTarget.value))}>
                {SPEEDS.map((s) => (
                  <option key={s} value={s}>
                    {s}×
                  </option>
                ))}
              </select>
            </label>
            <label>
              <input type="checkbox" checked={player.skip} onChange={player.toggleSkip} /> Skip inactivity
            </label>
          </div>
          <Timeline playback={playback} total={total} markers={data.timeline.items} />
        </section>
        <aside class="x-panels">
          <div class="x-tabs" role="tablist">
            {tabs.map(([id, label, count]) => (
              <button type="button" role="tab" key={id} aria-selected={tab === id} onClick={() => setTab(id)}>
                {label}
                {count !== null && <span class="x-count">{count}</span>}
              </button>
            ))}
          </div>
          <div class="x-panel" role="tabpanel">
            {tab === "console" && <ConsolePanel lines={data.console.items} playback={playback} />}
            {tab === "network" && (
              <NetworkPanel requests={data.network.items} playback={playback} traceIds={traceIds} showTrace={showTrace} />
            )}
            {tab === "errors" && <ErrorsPanel errors={data.errors.items} playback={playback} />}
            {tab === "traces" && <Traces data={data} focused={focused} />}
            {tab === "logs" && <LogsPanel logs={data.logs.items} playback={playback} />}
            {tab === "info" && <InfoPanel session={session} />}
          </div>
        </aside>
      </main>
    </>
  );
}

function Traces({ data, focused }: { data: Exported; focused: string | null }) {
  if (!data.traces.length) return <p class="x-muted">No backend traces are linked to this session.</p>;
  return (
    <div class="x-traces">
      {data.traces.map((t) => (
        <TraceView key={t.trace_id} trace={t} open={t.trace_id === focused || data.traces.length === 1} />
      ))}
    </div>
  );
}

function Header({ data, title }: { data: Exported; title: string }) {
  const s = data.session;
  return (
    <header class="x-head">
      <span class="x-brand">hl-local</span>
      <h1>{title}</h1>
      {s && <span class="x-muted">{dateTime(s.started_ns / 1e6)}</span>}
      {s && <span class="x-muted">{duration(s.duration_ms)}</span>}
      {s && (
        <span class="x-muted x-url" title={s.first_url ?? ""}>
          {shortUrl(s.first_url)}
        </span>
      )}
      <span class="x-note">
        Exported {dateTime(data.exported_at_ms)} by hl-local {data.hl_local_version}; works offline
      </span>
    </header>
  );
}

function App() {
  const [loaded, setLoaded] = useState<{ data: Exported; events: RrwebEvent[] } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    load().then(setLoaded, (e: unknown) => setFailure(String(e)));
  }, []);
  if (failure) return <p class="x-failure">This export could not be read: {failure}</p>;
  if (!loaded) return <p class="x-muted x-loading">Opening the recording…</p>;
  const { data, events } = loaded;
  if (data.session) return <SessionView data={data} events={events} />;
  const [trace] = data.traces;
  return (
    <>
      <Header data={data} title={trace ? `Trace ${trace.trace_id}` : "Empty export"} />
      <main class="x-single">{trace && <TraceView trace={trace} open />}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
