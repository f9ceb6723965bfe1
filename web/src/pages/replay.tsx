// One session: the rrweb player (sandboxed, no scripts) with our own controls and timeline, and the
// panels that follow the play head. `?t=<ms>` opens the replay at that moment (ms from the start of
// the recording); `tab=` opens a panel, `error=` (an error id), `request=` (a request id) or `trace=`
// (the backend trace a request started) select an item in it. A live session's replay keeps growing.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import rrwebPlayer from "rrweb-player";
import { type ApiError, type RrwebEvent, getApi } from "../api";
import { ExportLinks } from "../components/ExportLinks";
import { Link } from "../components/Link";
import { isTyping } from "../components/Shortcuts";
import { useFetched } from "../fetched";
import { useLive } from "../live";
import { backTo, navigate, withParams } from "../router";
import { Panels, type Selection, TABS, type Tab } from "./replay-panels";
import { type Parts, type Playback, inactiveSpans, pageAt, pagesOf } from "./replay-model";
import { Controls, ReplayHeader, Timeline, UrlBar } from "./replay-timeline";

const TICK_MS = 100; // how often the panels follow the play head
const FIRST_WINDOW_MS = 60_000; // loaded before the player starts; the rest streams in behind it

async function loadParts(id: string, signal: AbortSignal): Promise<Parts> {
  const ids = { session_id: id };
  const [session, timeline, console, network, errors, logs] = await Promise.all([
    getApi("/api/sessions/{session_id}", ids, signal),
    getApi("/api/sessions/{session_id}/timeline", ids, signal),
    getApi("/api/sessions/{session_id}/console", ids, signal),
    getApi("/api/sessions/{session_id}/network", ids, signal),
    getApi("/api/sessions/{session_id}/errors", ids, signal),
    getApi("/api/sessions/{session_id}/logs", ids, signal),
  ]);
  return {
    session,
    timeline: timeline.items,
    console: console.items,
    network: network.items,
    errors: errors.items,
    logs: logs.items,
  };
}

const failureText = (e: ApiError) => (e.status === 404 ? "No such session." : e.message);

function usePlayer(events: RrwebEvent[] | null, added: RrwebEvent[], initialOffset: number) {
  const host = useRef<HTMLDivElement>(null);
  const player = useRef<rrwebPlayer | null>(null);
  const fed = useRef(0); // how many of `added` the player has
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
    const replayerOptions: Record<string, unknown> = {
      // a recorded focus would move the keyboard focus into the replay's iframe, and the page's
      // shortcuts (space, arrows) would stop working after the first seek or play
      triggerFocus: false,
      UNSAFE_replayCanvas: false, // never: it would let the recorded page run scripts
    };
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
        ...replayerOptions,
      },
    });
    player.current = instance;
    fed.current = 0;
    instance.addEventListener("ui-update-current-time", (event: unknown) => {
      latest.current = (event as { payload: number }).payload;
    });
    instance.addEventListener("ui-update-player-state", (event: unknown) => {
      setPlaying((event as { payload: string }).payload === "playing");
    });
    const replayer = instance.getReplayer();
    replayer.on("skip-start", () => setSkipping(true));
    replayer.on("skip-end", () => setSkipping(false));
    replayer.iframe.setAttribute("tabindex", "-1"); // never a stop for the keyboard
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
    if (!p || fed.current >= added.length) return;
    const before = fed.current;
    for (const event of added.slice(before)) p.addEvent(event as never);
    fed.current = added.length;
    // a moment asked for past the first window can only be shown now that it is here
    if (before === 0 && initialOffset > FIRST_WINDOW_MS && latest.current === initialOffset) p.goto(initialOffset, false);
  }, [added, events]);

  const seek = (offset: number, total: number) => {
    const p = player.current;
    if (!p) return;
    // at least 1 ms: a paused seek to exactly 0 leaves rrweb with an empty page
    const to = Math.max(1, Math.min(offset, total));
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

/** The recording: its first minute at once (the first frame comes quickly even for long sessions),
 * then everything after it, then, while the session is live, what its new pushes add. */
function useRecording(sessionId: string, live: boolean) {
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
      const events = await getApi("/api/sessions/{session_id}/events", { session_id: sessionId, from_ms: cut + 1 }, signal);
      return events.filter((e) => e.timestamp > cut); // from_ms starts at a keyframe before it
    },
    [sessionId, head.data],
  );
  const [grown, setGrown] = useState<RrwebEvent[]>([]);
  useEffect(() => setGrown([]), [sessionId]);
  const first = head.data?.events ?? null;
  const rest = tail.data;
  const last = grown[grown.length - 1] ?? rest?.[rest.length - 1] ?? first?.[first.length - 1];
  const asking = useRef(false);
  useLive(
    ["sessions"],
    () => {
      if (!live || !last || rest === null || asking.current) return;
      const since = last.timestamp;
      asking.current = true;
      getApi("/api/sessions/{session_id}/events", { session_id: sessionId, from_ms: since + 1 })
        .then((events) => {
          const fresh = events.filter((e) => e.timestamp > since);
          if (fresh.length) setGrown((old) => [...old, ...fresh]);
        })
        .catch(() => {}) // the next push tries again
        .finally(() => (asking.current = false));
    },
    1500,
  );
  const added = useMemo(() => [...(rest ?? []), ...grown], [rest, grown]);
  return { first, added, restLoaded: rest !== null, failure: head.error ?? tail.error };
}

// Whether this document was served with remote assets blocked (ui.py: `?assets=blocked` sets a
// stricter Content-Security-Policy, which the replay iframe inherits). Fixed for the document's
// life: in-app navigation keeps the policy even when the URL no longer says so.
const ASSETS_BLOCKED = new URLSearchParams(location.search).get("assets") === "blocked";

/** A recording can name any URL (a hostile page's, or http://localhost ones): replaying it makes
 * the browser fetch its images, fonts and styles. This reloads the page with them blocked, or not. */
function AssetsToggle() {
  const toggle = () => {
    const next = new URL(location.href);
    if (ASSETS_BLOCKED) next.searchParams.delete("assets");
    else next.searchParams.set("assets", "blocked");
    location.assign(next.toString());
  };
  return (
    <button
      type="button"
      class="linkish assets-toggle"
      onClick={toggle}
      title={
        ASSETS_BLOCKED
          ? "Images, fonts and styles from other hosts are not loaded. Click to load them (the page reloads)."
          : "Replaying loads the images, fonts and styles the recording names from their hosts. " +
            "Click to block them (the page reloads)."
      }
    >
      {ASSETS_BLOCKED ? "Remote assets blocked" : "Block remote assets"}
    </button>
  );
}
const selectionOf = (params: URLSearchParams): Selection => {
  const tab = params.get("tab") as Tab | null;
  return {
    tab: tab && TABS.includes(tab) ? tab : null,
    error: params.get("error"),
    request: params.get("request"),
    trace: params.get("trace"),
  };
};

export function SessionPage({ sessionId, params }: { sessionId: string; params: URLSearchParams }) {
  const fetchedParts = useFetched((signal) => loadParts(sessionId, signal), [sessionId]);
  const parts = fetchedParts.data;
  const initial = useMemo(() => Math.max(0, Number(params.get("t") ?? 0) || 0), [sessionId]);
  const selection = useMemo(() => selectionOf(params), [sessionId, params.get("error"), params.get("request"), params.get("trace")]);
  const live = !!parts?.session.live;
  useLive(["sessions", "errors", "network", "logs"], () => live && fetchedParts.reload(), 3000);

  const { first, added, failure: recordingFailure } = useRecording(sessionId, live);
  const failed = fetchedParts.error ?? recordingFailure;
  const failure = failed ? failureText(failed) : null;
  const player = usePlayer(first, added, initial);
  const start = first?.length ? first[0].timestamp : (parts?.session.first_event_ms ?? 0);
  const lastEvent = added.length ? added[added.length - 1] : first?.[first.length - 1];
  // until the events arrive, the session's own bounds: rows then say "after the recording" only when it is so
  const recorded = parts?.session.last_event_ms != null ? parts.session.last_event_ms - start : 0;
  const total = lastEvent ? lastEvent.timestamp - start : Math.max(0, recorded);
  const seek = (offset: number) => player.seek(offset, total);
  // a moment asked for past the end (a link made while the session was longer, or by hand) is the end
  const now = lastEvent ? Math.min(player.now, total) : player.now;
  const playback: Playback = { start, total, now, playing: player.playing, seek };
  const everything = useMemo(() => (first ? [...first, ...added] : []), [first, added]);
  const pages = useMemo(() => pagesOf(everything), [everything]);
  const inactive = useMemo(() => inactiveSpans(everything, start), [everything, start]);

  const keys = useRef({ player, playback });
  keys.current = { player, playback };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      const { player: p, playback: b } = keys.current;
      if (e.key === " " || e.key === "k") {
        e.preventDefault();
        p.toggle();
      } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        e.preventDefault();
        const step = (e.shiftKey ? 30_000 : 5000) * (e.key === "ArrowLeft" ? -1 : 1);
        b.seek(b.now + step);
      }
    };
    // a focused button would also "click" on the space's keyup, toggling a second time
    const onKeyUp = (e: KeyboardEvent) => {
      if (e.key === " " && !isTyping(e.target)) e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("keyup", onKeyUp);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("keyup", onKeyUp);
    };
  }, []);

  if (failure) {
    return (
      <section class="page">
        <p class="error-note">{failure}</p>
        <Link href={backTo("/sessions")}>← Sessions</Link>
      </section>
    );
  }
  const session = parts?.session ?? null;
  return (
    <section class="page replay-page">
      <ReplayHeader
        session={session}
        actions={
          <>
            <AssetsToggle />
            <ExportLinks session={sessionId} formats={["html", "duckdb"]} />
          </>
        }
      />
      <div class="replay-body">
        <div class="stage">
          <UrlBar url={pageAt(pages, start + now) ?? session?.first_url ?? null} />
          <div class="player-host" ref={player.host} data-testid="player">
            {!first && <p class="muted loading">Loading the recording…</p>}
            {first && first.length < 2 && <p class="muted loading">Nothing was recorded in this session.</p>}
          </div>
          {player.skipping && <div class="skipping">Skipping inactivity…</div>}
          <Controls player={player} playback={playback} sessionId={sessionId} />
          <Timeline playback={playback} markers={parts?.timeline ?? []} inactive={inactive} />
        </div>
        <Panels
          parts={parts}
          playback={playback}
          selection={selection}
          onTab={(tab) => navigate(withParams({ tab, error: null, request: null, trace: null }), true)}
        />
      </div>
    </section>
  );
}
