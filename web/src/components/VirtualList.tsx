// A list that renders only the rows in view (fixed row height), so 10,000 rows scroll smoothly,
// and asks for the next page when the end comes into view.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

const OVERSCAN = 8;

export function VirtualList<T>({ items, rowHeight, row, onEnd, label, activeIndex }: {
  items: T[];
  rowHeight: number;
  row: (item: T, index: number) => ComponentChildren;
  onEnd?: () => void;
  label: string;
  activeIndex?: number | null;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);

  useEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    const last = Math.ceil((top + height) / rowHeight);
    if (onEnd && last + OVERSCAN >= items.length) onEnd();
  }, [top, height, items.length]);
  useEffect(() => {
    // keep the active row (the play head's) in view
    const element = box.current;
    if (!element || activeIndex === null || activeIndex === undefined || activeIndex < 0) return;
    const y = activeIndex * rowHeight;
    if (y < element.scrollTop || y + rowHeight > element.scrollTop + element.clientHeight) {
      element.scrollTop = Math.max(0, y - element.clientHeight / 2);
    }
  }, [activeIndex]);

  const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((top + height) / rowHeight) + OVERSCAN);
  const visible = [];
  const slots = last - first + 1;
  for (let i = first; i < last; i++) {
    // keyed by slot, not by index: a row scrolled out is reused for the one scrolled in, so
    // scrolling patches a few text nodes instead of building new elements every frame
    visible.push(
      <div class="vrow" role="row" key={i % slots} style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}>
        {row(items[i], i)}
      </div>,
    );
  }
  return (
    <div
      class="vlist"
      role="grid"
      aria-label={label}
      aria-rowcount={items.length}
      ref={box}
      onScroll={(e) => setTop(e.currentTarget.scrollTop)}
    >
      <div class="vspace" style={{ height: `${items.length * rowHeight}px` }}>
        {visible}
      </div>
    </div>
  );
}
