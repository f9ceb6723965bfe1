// The time range: a preset relative to now (`range=1h`) or absolute bounds (`start`, `end`), in
// the URL next to the query, so a link shows the same rows. The API takes epoch milliseconds.
import { useMemo } from "preact/hooks";
import { navigate, withParams } from "../router";

export const PRESETS: [string, string, number | null][] = [
  ["15m", "Last 15 minutes", 15 * 60e3],
  ["1h", "Last hour", 3600e3],
  ["6h", "Last 6 hours", 6 * 3600e3],
  ["24h", "Last 24 hours", 86400e3],
  ["7d", "Last 7 days", 7 * 86400e3],
  ["30d", "Last 30 days", 30 * 86400e3],
  ["all", "All time", null],
];

/** The API's `start`/`end` for the range in `params` (epoch ms), evaluated now. */
export function rangeParams(params: URLSearchParams): { start?: number; end?: number } {
  const start = params.get("start");
  const end = params.get("end");
  if (start || end) {
    return { start: start ? Date.parse(start) : undefined, end: end ? Date.parse(end) : undefined };
  }
  const preset = PRESETS.find(([key]) => key === (params.get("range") ?? "all"));
  return preset && preset[2] !== null ? { start: Date.now() - preset[2] } : {};
}

/** The range of the URL as the API wants it, computed once per URL: `rangeParams` reads the clock,
 * and a fresh `start` on every render would refetch (and rerender) forever. */
export function useRange(params: URLSearchParams): { start?: number; end?: number } {
  const key = ["range", "start", "end"].map((k) => params.get(k) ?? "").join("|");
  return useMemo(() => rangeParams(params), [key]);
}

function localInput(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const shifted = new Date(d.getTime() - d.getTimezoneOffset() * 60e3);
  return shifted.toISOString().slice(0, 16);
}

export function TimeRange({ params }: { params: URLSearchParams }) {
  const custom = params.has("start") || params.has("end");
  const value = custom ? "custom" : (params.get("range") ?? "all");
  const choose = (key: string) => {
    if (key === "custom") {
      const from = new Date(Date.now() - 3600e3).toISOString();
      navigate(withParams({ range: null, start: from, end: null, cursor: null }));
    } else {
      navigate(withParams({ range: key === "all" ? null : key, start: null, end: null, cursor: null }));
    }
  };
  const setBound = (key: "start" | "end", local: string) => {
    const iso = local ? new Date(local).toISOString() : null;
    navigate(withParams({ [key]: iso, range: null }));
  };
  return (
    <div class="time-range">
      <select aria-label="Time range" value={value} onChange={(e) => choose(e.currentTarget.value)}>
        {PRESETS.map(([key, label]) => (
          <option key={key} value={key}>
            {label}
          </option>
        ))}
        <option value="custom">Custom…</option>
      </select>
      {custom && (
        <span class="bounds">
          <input
            type="datetime-local"
            aria-label="From"
            value={localInput(params.get("start"))}
            onChange={(e) => setBound("start", e.currentTarget.value)}
          />
          <span>→</span>
          <input
            type="datetime-local"
            aria-label="To"
            value={localInput(params.get("end"))}
            onChange={(e) => setBound("end", e.currentTarget.value)}
          />
        </span>
      )}
    </div>
  );
}
