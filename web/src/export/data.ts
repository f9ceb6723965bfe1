// What an exported page holds (hl_local/export/html.py writes it): the API's own answers for one
// session (or one trace), gzip-compressed and base64-encoded inside the page, read back with the
// browser's DecompressionStream: no server, no network.
import type {
  ConsoleLines,
  LogPage,
  NetworkRequests,
  RrwebEvent,
  SessionDetail,
  SessionErrors,
  Timeline,
  Trace,
} from "../api.gen";

export type Marker = Timeline["items"][number];

/** Each part is the answer of the API endpoint it is named after, byte for byte. */
export interface Exported {
  format: 1;
  exported_at_ms: number;
  hl_local_version: string;
  session: SessionDetail | null; // GET /api/sessions/{id}
  timeline: Timeline; // …/timeline
  console: ConsoleLines; // …/console
  network: NetworkRequests; // …/network
  errors: SessionErrors; // …/errors
  logs: LogPage; // …/logs
  traces: Trace[]; // GET /api/traces/{id} of every trace linked to the session
}

/** The JSON in the `<script type="application/octet-stream" id=...>` element named `id`. */
export async function unpack<T>(id: string): Promise<T> {
  const text = document.getElementById(id)?.textContent?.trim() ?? "";
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text()) as T;
}

export async function load(): Promise<{ data: Exported; events: RrwebEvent[] }> {
  const [data, events] = await Promise.all([unpack<Exported>("hl-data"), unpack<RrwebEvent[]>("hl-events")]);
  return { data, events };
}

// ---- formatting (the app's own helpers are not shared: this page is bundled on its own)

export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60));
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm.padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return clock(ms);
}

export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** Any value as text: strings as they are, everything else as indented JSON (never as HTML). */
export function asText(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function shortUrl(url: string | null | undefined): string {
  if (!url) return "";
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** The index of the last of `times` (sorted) at or before `at`, or -1. */
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
