// Around the player: the header (the session, its links and actions), the current page's URL, the
// controls, and the timeline (markers, inactive stretches shaded, what came after the recording pinned
// at its end). Other views add their own markers or header actions through the props.
import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import type { Marker, SessionDetail } from "../api";
import { Link } from "../components/Link";
import { clock, dateTime, nsToMs } from "../format";
import { backTo, navigate, withParams } from "../router";
import { type Playback, placeOf } from "./replay-model";
import { identity } from "./sessions";

const SPEEDS = [1, 2, 4, 8];

export function ReplayHeader({ session, actions }: { session: SessionDetail | null; actions?: ComponentChildren }) {
  return (
    <div class="replay-head">
      <Link href={backTo("/sessions")} class="back">
        ← Sessions
      </Link>
      <h1>{session ? identity(session) : "…"}</h1>
      {session?.live && <span class="tag live">live</span>}
      <span class="muted">{session ? dateTime(nsToMs(session.started_ns)) : ""}</span>
      <span class="head-actions">{actions}</span>
    </div>
  );
}

/** The URL of the page the play head is on (recorded text: shown as text, never a link). */
export function UrlBar({ url }: { url: string | null }) {
  return (
    <div class="url-bar" title={url ?? ""} aria-label="Page URL">
      <span class="url-lock" aria-hidden="true">
        ⌂
      </span>
      <span class="url-text">{url ?? "–"}</span>
    </div>
  );
}

export interface PlayerControls {
  playing: boolean;
  speed: number;
  skip: boolean;
  toggle: () => void;
  setSpeed: (speed: number) => void;
  toggleSkip: () => void;
}

export function Controls({ player, playback, sessionId }: { player: PlayerControls; playback: Playback; sessionId: string }) {
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
      <button type="button" class="play" onClick={player.toggle} aria-label={player.playing ? "Pause" : "Play"} title="Play / pause (space)">
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

export function Timeline({ playback, markers, inactive }: {
  playback: Playback;
  markers: Marker[];
  inactive: [number, number][]; // offsets
}) {
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
      {inactive.map(([from, to]) => (
        <div
          key={from}
          class="inactive"
          title={`inactive ${clock(from)}–${clock(to)}`}
          style={{ left: `${fraction(from) * 100}%`, width: `${(fraction(to) - fraction(from)) * 100}%` }}
        />
      ))}
      <div class="progress" style={{ width: `${fraction(now) * 100}%` }} />
      {markers.map((m, i) => {
        const place = placeOf(playback, m.time_ms);
        const where = place.outside ? ` (${place.outside} the recording)` : "";
        return (
          <button
            type="button"
            key={i}
            class={`marker ${m.kind} ${place.outside ?? ""}`}
            style={{ left: `${fraction(place.offset) * 100}%` }}
            title={`${place.outside ? "" : clock(m.time_ms - start) + " "}${m.kind}: ${m.label}${where}`}
            aria-label={`${m.kind} at ${clock(place.offset)}${where}: ${m.label}`}
            onClick={() => playback.seek(place.offset)}
          />
        );
      })}
    </div>
  );
}
