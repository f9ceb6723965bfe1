// One EventSource for the whole app: /api/live names the topics that received new data.
import { useEffect, useRef } from "preact/hooks";
import type { LiveChange, Topic } from "./api";

type Listener = (topics: Topic[]) => void;

const listeners = new Set<Listener>();
let source: EventSource | null = null;

function connect(): void {
  if (source) return;
  source = new EventSource("/api/live");
  source.addEventListener("change", (event) => {
    const topics = (JSON.parse((event as MessageEvent).data) as LiveChange).topics;
    for (const listener of listeners) listener(topics);
  });
  source.addEventListener("reload", () => location.reload()); // `hl-local --dev` saw a new bundle
}

/** Calls `onChange` (at most every `minGapMs`) when one of `topics` received new data. */
export function useLive(topics: Topic[], onChange: () => void, minGapMs = 1000): void {
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => {
    connect();
    let last = 0;
    let timer: number | undefined;
    const listener: Listener = (moved) => {
      if (!moved.some((t) => topics.includes(t))) return;
      const wait = last + minGapMs - Date.now();
      if (wait <= 0) {
        last = Date.now();
        latest.current();
      } else if (timer === undefined) {
        timer = window.setTimeout(() => {
          timer = undefined;
          last = Date.now();
          latest.current();
        }, wait);
      }
    };
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [topics.join(",")]);
}
