// The linked traces as waterfalls: each span a bar placed by its start and length within its
// trace, children under their parent; a click shows the span's attributes and events (as text).
import { useMemo, useState } from "preact/hooks";
import type { Span, Trace } from "../api.gen";
import { dateTime, duration } from "./data";
import { Frames, LogsPanel, Pairs } from "./panels";

/** The spans in tree order (each after its parent), with their depth. */
function ordered(spans: Span[]): [Span, number][] {
  const ids = new Set(spans.map((s) => s.span_id));
  const children = new Map<string, Span[]>();
  for (const span of [...spans].sort((a, b) => a.start_ns - b.start_ns)) {
    const parent = ids.has(span.parent_span_id) ? span.parent_span_id : "";
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const out: [Span, number][] = [];
  const walk = (parent: string, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      out.push([span, depth]);
      walk(span.span_id, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

export function TraceView({ trace, open: initiallyOpen }: { trace: Trace; open?: boolean }) {
  const rows = useMemo(() => ordered(trace.spans), [trace]);
  const [open, setOpen] = useState(initiallyOpen ?? false);
  const [selected, setSelected] = useState<string | null>(null);
  const root = rows[0]?.[0];
  const total = Math.max(1, trace.duration_ns);
  const failed = trace.errors.length > 0 || trace.spans.some((s) => s.status_code === 2);
  return (
    <section class={`x-trace ${failed ? "x-failed" : ""}`} id={`trace-${trace.trace_id}`} data-trace={trace.trace_id}>
      <button type="button" class="x-trace-head" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span>{open ? "▾" : "▸"}</span>
        <strong>{root?.name ?? trace.trace_id}</strong>
        <span class="x-muted">{root?.service_name}</span>
        <span class="x-muted">{dateTime(trace.start_ns / 1e6)}</span>
        <span class="x-dur">{duration(trace.duration_ns / 1e6)}</span>
        <span class="x-muted">
          {trace.spans.length} span{trace.spans.length === 1 ? "" : "s"}
          {trace.errors.length ? `, ${trace.errors.length} error${trace.errors.length === 1 ? "" : "s"}` : ""}
        </span>
      </button>
      {open && (
        <div class="x-waterfall">
          {rows.map(([span, depth]) => {
            const left = ((span.start_ns - trace.start_ns) / total) * 100;
            const width = Math.max(0.3, (span.duration_ns / total) * 100);
            return (
              <div key={span.span_id}>
                <button
                  type="button"
                  class={`x-span ${span.status_code === 2 ? "x-failed" : ""} ${selected === span.span_id ? "x-selected" : ""}`}
                  onClick={() => setSelected(selected === span.span_id ? null : span.span_id)}
                >
                  <span class="x-span-name" style={{ paddingLeft: `${depth * 12}px` }}>
                    {span.name}
                    <span class="x-muted"> {span.service_name}</span>
                  </span>
                  <span class="x-span-lane">
                    <span class="x-bar" style={{ left: `${left}%`, width: `${width}%` }} />
                  </span>
                  <span class="x-dur">{duration(span.duration_ns / 1e6)}</span>
                </button>
                {selected === span.span_id && (
                  <div class="x-detail">
                    <Pairs
                      rows={[
                        ["Span", span.span_id],
                        ["Status", span.status_message || ["unset", "ok", "error"][span.status_code]],
                        ...Object.entries(span.attributes),
                      ]}
                    />
                    {span.events.map((e, i) => (
                      <div key={i}>
                        <h4>
                          Event: {e.name} (+{duration((e.time_ns - span.start_ns) / 1e6)})
                        </h4>
                        {Object.keys(e.attributes).length > 0 && <Pairs rows={Object.entries(e.attributes)} />}
                      </div>
                    ))}
                  </div>
                )}
              </div>
            );
          })}
          {trace.errors.length > 0 && <h4>Errors</h4>}
          {trace.errors.map((e) => (
            <div key={e.error_id} class="x-detail">
              <p>
                <strong>{e.type}</strong> {e.message}
              </p>
              <Frames frames={e.frames} stack={e.stack} />
            </div>
          ))}
          {trace.logs.length > 0 && <h4>Logs</h4>}
          {trace.logs.length > 0 && <LogsPanel logs={trace.logs} playback={null} />}
        </div>
      )}
    </section>
  );
}
