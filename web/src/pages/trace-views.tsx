// What helps read many spans or many traces: the minimap over a trace's waterfall (every span, drag to
// zoom the waterfall into a part of the trace) and the duration scatter over the trace list.
import { useEffect, useRef, useState } from "preact/hooks";
import type { Span, Trace, TraceRow } from "../api";
import { colourOf } from "../components/telemetry";
import { dateTime, duration, timeOfDay } from "../format";
import { navigate } from "../router";

/** The part of a trace the waterfall shows, as fractions of its duration. */
export interface Window {
  from: number;
  to: number;
}

/** Five ticks over the window: (position 0..1 in the lane, ns since the trace's start). */
export function windowTicks(totalNs: number, win: Window): [number, number][] {
  return [0, 0.25, 0.5, 0.75, 1].map((f) => [f, (win.from + f * (win.to - win.from)) * totalNs]);
}

const MINIMAP_H = 44;

/** Every span of the trace as a thin bar (rows in waterfall order, squeezed to fit), the shown window
 * over it; a drag across it zooms the waterfall there, a double click shows the whole trace. */
export function Minimap({ nodes, trace, win, onWindow, selectedId }: {
  nodes: { span: Span }[];
  trace: Trace;
  win: Window;
  onWindow: (win: Window) => void;
  selectedId: string | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  useEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    // a canvas, not an element per span: a 10,000-span trace draws in one pass
    const c = canvas.current;
    if (!c || !width) return;
    const ratio = window.devicePixelRatio || 1;
    c.width = width * ratio;
    c.height = MINIMAP_H * ratio;
    const g = c.getContext("2d");
    if (!g) return;
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, MINIMAP_H);
    const total = Math.max(1, trace.duration_ns);
    const accent = getComputedStyle(c).getPropertyValue("--accent").trim() || "#5b4fd6"; // the selected span
    const rowH = Math.max(0.5, Math.min(6, (MINIMAP_H - 2) / Math.max(1, nodes.length))); // a few spans stay visible
    nodes.forEach(({ span }, i) => {
      const x = ((span.start_ns - trace.start_ns) / total) * width;
      const w = Math.max(1, (span.duration_ns / total) * width);
      const y = 1 + (nodes.length * rowH <= MINIMAP_H - 2 ? i * rowH : (i / nodes.length) * (MINIMAP_H - 2));
      g.fillStyle = span.span_id === selectedId ? accent : span.status_code === 2 ? "#d23b3b" : colourOf(span.service_name);
      g.fillRect(x, y, w, Math.max(1, rowH - 0.2));
    });
  }, [nodes, trace, width, selectedId]);
  const at = (clientX: number) => {
    const rect = box.current!.getBoundingClientRect();
    return Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
  };
  const finish = () => {
    if (!drag) return;
    const [a, b] = drag[0] <= drag[1] ? drag : [drag[1], drag[0]];
    setDrag(null);
    if (b - a >= 0.005) {
      onWindow({ from: a, to: b });
    } else if (win.to - win.from < 1) {
      // a click: move the zoomed window there, same width
      const width = win.to - win.from;
      const from = Math.min(1 - width, Math.max(0, a - width / 2));
      onWindow({ from, to: from + width });
    }
  };
  const shown = drag ? { from: Math.min(...drag), to: Math.max(...drag) } : win;
  return (
    <div
      class="minimap"
      ref={box}
      role="img"
      aria-label={`Minimap of ${nodes.length} spans; drag to zoom`}
      title="Drag to zoom into part of the trace; double-click to see it all"
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture(e.pointerId);
        const x = at(e.clientX);
        setDrag([x, x]);
      }}
      onPointerMove={(e) => drag && setDrag([drag[0], at(e.clientX)])}
      onPointerUp={finish}
      onDblClick={() => onWindow({ from: 0, to: 1 })}
    >
      <canvas ref={canvas} style={{ width: `${width}px`, height: `${MINIMAP_H}px` }} />
      <div class="mm-shade" style={{ left: 0, width: `${shown.from * 100}%` }} />
      <div class="mm-shade" style={{ left: `${shown.to * 100}%`, right: 0 }} />
      <div class="mm-window" style={{ left: `${shown.from * 100}%`, width: `${(shown.to - shown.from) * 100}%` }} />
    </div>
  );
}

const SCATTER_H = 110;
const PAD_L = 56;

/** The loaded traces by start time and duration (log scale); a dot opens its trace. */
export function DurationScatter({ traces }: { traces: TraceRow[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [hover, setHover] = useState<TraceRow | null>(null);
  useEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const starts = traces.map((t) => t.start_ns);
  const first = Math.min(...starts);
  const last = Math.max(...starts);
  const durations = traces.map((t) => Math.max(1000, t.duration_ns));
  const low = Math.log10(Math.min(...durations));
  const high = Math.max(low + 1, Math.log10(Math.max(...durations)));
  const plotW = Math.max(10, width - PAD_L - 10);
  const x = (ns: number) => PAD_L + (last > first ? ((ns - first) / (last - first)) * plotW : plotW / 2);
  const y = (ns: number) => 6 + (1 - (Math.log10(Math.max(1000, ns)) - low) / (high - low)) * (SCATTER_H - 24);
  const ticks = [Math.ceil(low), Math.floor(high)].filter((v, i, a) => a.indexOf(v) === i);
  return (
    <div class="scatter" ref={box} aria-label="Trace durations over time">
      {width > 0 && (
        <svg width={width} height={SCATTER_H} role="img" aria-label={`${traces.length} traces by start and duration`}>
          {ticks.map((t) => (
            <g key={t} class="grid">
              <line x1={PAD_L} x2={PAD_L + plotW} y1={y(10 ** t)} y2={y(10 ** t)} />
              <text x={PAD_L - 6} y={y(10 ** t) + 4} text-anchor="end">
                {duration(10 ** t / 1e6)}
              </text>
            </g>
          ))}
          <text class="x-tick" x={PAD_L} y={SCATTER_H - 4}>
            {timeOfDay(first / 1e6).slice(0, 8)}
          </text>
          <text class="x-tick" x={PAD_L + plotW} y={SCATTER_H - 4} text-anchor="end">
            {timeOfDay(last / 1e6).slice(0, 8)}
          </text>
          {traces.map((t) => (
            <circle
              key={t.trace_id}
              class={`dot ${t.has_errors ? "failed" : ""}`}
              cx={x(t.start_ns)}
              cy={y(t.duration_ns)}
              r={3.5}
              fill={colourOf(t.service_name)}
              onClick={() => navigate(`/traces/${encodeURIComponent(t.trace_id)}`)}
              onPointerEnter={() => setHover(t)}
              onPointerLeave={() => setHover(null)}
            />
          ))}
        </svg>
      )}
      {hover && (
        <div
          class="chart-tip"
          role="status"
          style={{ left: `${Math.min(width - 220, x(hover.start_ns) + 10)}px`, top: `${Math.max(0, y(hover.duration_ns) - 10)}px` }}
        >
          <div class="tip-label">{hover.root_span_name || hover.trace_id}</div>
          <div class="when">
            {duration(hover.duration_ns / 1e6)} · {hover.service_name || "–"} · {dateTime(hover.start_ns / 1e6)}
          </div>
        </div>
      )}
    </div>
  );
}
