// A time chart in plain SVG: lines (or bars) over equal time buckets, with axes, a legend, values on
// hover, and the range narrowed by a click on a bucket or a drag across several. Series labels and
// values are text nodes only (they can be recorded text: attribute values).
import { useEffect, useRef, useState } from "preact/hooks";
import { dateTime, timeOfDay } from "../format";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  colour: string;
}

export const SERIES_COLOURS = ["#4f7fe8", "#e0823d", "#2e9e6a", "#c9485b", "#8f63d6", "#2aa3b3", "#b08d1f",
  "#d2579c", "#6f7d8c", "#5aa14b"];

const PAD = { top: 10, right: 12, bottom: 24, left: 56 };

/** Round steps for an axis: 1, 2 or 5 times a power of ten, about `count` of them over [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 4, whole = false): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = Math.max(whole ? 1 : 0, (hi - lo) / count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  // one more above the highest value, so the top of the plot is a labelled line
  if (ticks.length && ticks[ticks.length - 1] < hi - step * 1e-9) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

function useWidth() {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    setWidth(element.clientWidth);
    return () => observer.disconnect();
  }, []);
  return { box, width };
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((s) => s * 1000);

/** Round moments (every 1, 2, 5, 10, 15 or 30 s, 1, 2, 5… min, 1, 2, 3, 6, 12 h or days) in [from, to]. */
export function timeTicks(fromMs: number, toMs: number, count: number): { at: number; step: number }[] {
  const raw = (toMs - fromMs) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= raw) ?? Math.ceil(raw / 86400e3) * 86400e3;
  const offset = new Date(fromMs).getTimezoneOffset() * 60e3; // round in local time: 00:00, not 01:00
  const ticks: { at: number; step: number }[] = [];
  for (let t = Math.ceil((fromMs - offset) / step) * step + offset; t < toMs; t += step) ticks.push({ at: t, step });
  return ticks;
}

/** A time label short enough for an axis, precise enough for the ticks' spacing: seconds when they
 * are under a minute apart, the date when the range spans days. */
function timeLabel(ms: number, spanMs: number, stepMs: number): string {
  if (spanMs > 2 * 86400e3) return dateTime(ms).slice(5, 16);
  const clock = timeOfDay(ms);
  return stepMs >= 60e3 ? clock.slice(0, 5) : clock.slice(0, 8);
}

export function TimeChart({ startNs, bucketNs, series, format, height = 220, bars = false, whole = false, label, onRange }: {
  startNs: number;
  bucketNs: number;
  series: ChartSeries[];
  format: (value: number) => string;
  height?: number;
  bars?: boolean; // bars per bucket (counts), else lines
  whole?: boolean; // the values are counts: whole-number ticks
  label: string; // what the chart shows, for assistive technology
  onRange?: (startNs: number, endNs: number) => void; // a click or a drag narrows the range to that
}) {
  const { box, width } = useWidth();
  const [hover, setHover] = useState<number | null>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const buckets = Math.max(0, ...series.map((s) => s.values.length));
  const plotW = Math.max(10, width - PAD.left - PAD.right);
  const plotH = Math.max(10, height - PAD.top - PAD.bottom);
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const low = bars ? 0 : Math.min(0, ...all);
  const high = all.length ? Math.max(...all) : 1;
  const ticks = niceTicks(low, high === low ? low + 1 : high, 4, whole);
  const top = Math.max(high, ticks[ticks.length - 1] ?? high);
  const bottom = Math.min(low, ticks[0] ?? low);
  const x = (i: number) => PAD.left + (buckets ? ((i + 0.5) / buckets) * plotW : 0);
  const y = (v: number) => PAD.top + plotH - ((v - bottom) / (top - bottom || 1)) * plotH;
  const bucketAt = (clientX: number) => {
    const rect = box.current!.getBoundingClientRect();
    const i = Math.floor(((clientX - rect.left - PAD.left) / plotW) * buckets);
    return Math.min(buckets - 1, Math.max(0, i));
  };
  const spanMs = (buckets * bucketNs) / 1e6;
  const fromMs = startNs / 1e6;
  const xTicks = buckets ? timeTicks(fromMs, fromMs + spanMs, Math.max(2, Math.floor(plotW / 110))) : [];
  // bars of several series stand side by side within their bucket
  const barW = buckets ? Math.max(1, (plotW / buckets - 1) / Math.max(1, series.length)) : 0;

  const finish = () => {
    if (drag && onRange) {
      const [a, b] = drag[0] <= drag[1] ? drag : [drag[1], drag[0]];
      onRange(startNs + a * bucketNs, startNs + (b + 1) * bucketNs);
    }
    setDrag(null);
  };
  return (
    <div class="chart" ref={box} style={{ height: `${height}px` }}>
      {width > 0 && (
        <svg
          width={width}
          height={height}
          role="img"
          aria-label={label}
          onPointerMove={(e) => {
            const i = bucketAt(e.clientX);
            setHover(i);
            if (drag) setDrag([drag[0], i]);
          }}
          onPointerLeave={() => {
            setHover(null);
            setDrag(null);
          }}
          onPointerDown={(e) => {
            if (!onRange || !buckets) return;
            (e.currentTarget as Element).setPointerCapture(e.pointerId);
            const i = bucketAt(e.clientX);
            setDrag([i, i]);
          }}
          onPointerUp={finish}
          class={onRange ? "zoomable" : ""}
        >
          {ticks.map((t) => (
            <g key={t} class="grid">
              <line x1={PAD.left} x2={PAD.left + plotW} y1={y(t)} y2={y(t)} />
              <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end">
                {format(t)}
              </text>
            </g>
          ))}
          {xTicks.map(({ at, step }) => (
            <text key={at} class="x-tick" x={PAD.left + ((at - fromMs) / spanMs) * plotW} y={height - 6} text-anchor="middle">
              {timeLabel(at, spanMs, step)}
            </text>
          ))}
          {drag && (
            <rect
              class="selection"
              x={PAD.left + (Math.min(...drag) / buckets) * plotW}
              width={((Math.abs(drag[1] - drag[0]) + 1) / buckets) * plotW}
              y={PAD.top}
              height={plotH}
            />
          )}
          {bars
            ? series.map((s, si) =>
                s.values.map((v, i) =>
                  v ? (
                    <rect
                      key={`${si}-${i}`}
                      class="bar"
                      x={PAD.left + (i / buckets) * plotW + 0.5 + si * barW}
                      width={barW}
                      y={y(v)}
                      height={Math.max(1, y(bottom) - y(v))}
                      fill={s.colour}
                    />
                  ) : null,
                ),
              )
            : series.map((s) => <path key={s.label} d={linePath(s.values, x, y)} stroke={s.colour} class="line" />)}
          {!bars &&
            series.map((s) =>
              s.values.map((v, i) =>
                v !== null && (lonely(s.values, i) || hover === i) ? (
                  <circle key={`${s.label}-${i}`} cx={x(i)} cy={y(v)} r={hover === i ? 3.5 : 2.5} fill={s.colour} />
                ) : null,
              ),
            )}
          {hover !== null && <line class="crosshair" x1={x(hover)} x2={x(hover)} y1={PAD.top} y2={PAD.top + plotH} />}
          <line class="axis" x1={PAD.left} x2={PAD.left + plotW} y1={PAD.top + plotH} y2={PAD.top + plotH} />
        </svg>
      )}
      {hover !== null && (
        <div
          class="chart-tip"
          role="status"
          style={{ left: `${Math.min(width - 200, Math.max(0, x(hover) + 12))}px`, top: `${PAD.top}px` }}
        >
          <div class="when">{dateTime((startNs + hover * bucketNs) / 1e6)}</div>
          {series.map((s) => (
            <div key={s.label} class="tip-row">
              <span class="swatch" style={{ background: s.colour }} aria-hidden="true" />
              <span class="tip-label">{s.label}</span>
              <span class="tip-value">{s.values[hover] === null || s.values[hover] === undefined ? "–" : format(s.values[hover]!)}</span>
            </div>
          ))}
          {onRange && <div class="muted small">click or drag to zoom</div>}
        </div>
      )}
    </div>
  );
}

/** A point with no neighbour is drawn as a dot: a line needs two. */
const lonely = (values: (number | null)[], i: number) =>
  (i === 0 || values[i - 1] === null) && (i === values.length - 1 || values[i + 1] === null);

function linePath(values: (number | null)[], x: (i: number) => number, y: (v: number) => number): string {
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

export function Legend({ series, other }: { series: ChartSeries[]; other?: string | null }) {
  if (series.length < 2 && !other) return null;
  return (
    <ul class="legend-list">
      {series.map((s) => (
        <li key={s.label}>
          <span class="swatch" style={{ background: s.colour }} aria-hidden="true" /> {s.label}
        </li>
      ))}
      {other && <li class="muted">{other}</li>}
    </ul>
  );
}
