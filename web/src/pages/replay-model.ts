// What the replay page knows, apart from drawing it: the session's parts, the play head, where a moment
// falls in the recording, the pages visited and the inactive stretches (both from the rrweb events).
import type { ConsoleLine, LogLine, Marker, NetworkRequest, RrwebEvent, SessionDetail, SessionError } from "../api";

export interface Parts {
  session: SessionDetail;
  timeline: Marker[];
  console: ConsoleLine[];
  network: NetworkRequest[];
  errors: SessionError[];
  logs: LogLine[]; // every line of the session, its backend lines (linked through traces) included
}

/** Controls what the player shows; the panels and the timeline call it to seek. */
export interface Playback {
  start: number; // epoch ms of the first event: offset 0
  total: number; // offset of the last event
  now: number; // offset of the play head, ms
  playing: boolean;
  seek: (offset: number) => void; // clamped to the recording
}

/** The index of the last item at or before `at` (items sorted by time), or -1. */
export function lastAtOrBefore(times: number[], at: number): number {
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

/** Where the moment `atMs` (epoch ms) falls: its offset into the recording, clamped to it, and whether
 * it came before the first or after the last recorded event (a backend line can, or a late error). */
export function placeOf(playback: Pick<Playback, "start" | "total">, atMs: number) {
  const offset = atMs - playback.start;
  if (offset < 0) return { offset: 0, outside: "before" as const };
  if (offset > playback.total + 1000) return { offset: playback.total, outside: "after" as const };
  return { offset: Math.min(offset, playback.total), outside: null };
}

const META = 4;
const INCREMENTAL = 3;
const CUSTOM = 5;
const INACTIVE_MS = 10_000; // rrweb's inactivePeriodThreshold: what "skip inactivity" skips

/** (epoch ms, URL) of every page: the Meta event of each load and Highlight's Navigate events. */
export function pagesOf(events: RrwebEvent[]): [number, string][] {
  const pages: [number, string][] = [];
  for (const event of events) {
    const data = event.data as { href?: unknown; tag?: unknown; payload?: unknown } | null;
    let url: unknown = null;
    if (event.type === META) url = data?.href;
    else if (event.type === CUSTOM && (data?.tag === "Navigate" || data?.tag === "Reload")) url = data?.payload;
    if (typeof url === "string" && url && pages[pages.length - 1]?.[1] !== url) pages.push([event.timestamp, url]);
  }
  return pages;
}

/** The page shown at `atMs`. */
export function pageAt(pages: [number, string][], atMs: number): string | null {
  const i = lastAtOrBefore(
    pages.map((p) => p[0]),
    atMs,
  );
  return i >= 0 ? pages[i][1] : (pages[0]?.[1] ?? null);
}

/** Stretches of more than 10 s without the user doing anything (mouse, scroll, input, resize, touch),
 * as [from, to] offsets: what rrweb's player skips with "skip inactivity". */
export function inactiveSpans(events: RrwebEvent[], start: number): [number, number][] {
  if (!events.length) return [];
  const spans: [number, number][] = [];
  let lastActive = events[0].timestamp;
  for (const event of events) {
    const source = (event.data as { source?: number } | null)?.source;
    // rrweb's isUserInteraction: incremental sources MouseMove (1) to Input (5)
    if (event.type !== INCREMENTAL || source === undefined || source < 1 || source > 5) continue;
    if (event.timestamp - lastActive > INACTIVE_MS) spans.push([lastActive - start, event.timestamp - start]);
    lastActive = event.timestamp;
  }
  const last = events[events.length - 1].timestamp;
  if (last - lastActive > INACTIVE_MS) spans.push([lastActive - start, last - start]);
  return spans;
}
