// The keyboard shortcuts, shown by `?` (and hidden by Esc, `?` or a click outside).
import { useEffect, useRef } from "preact/hooks";

export const SHORTCUTS: [string, [string, string][]][] = [
  [
    "Everywhere",
    [
      ["/", "search"],
      ["g then h", "home"],
      ["g then s / e / l / t / m", "sessions, errors, logs, traces, metrics"],
      ["?", "these shortcuts"],
      ["Esc", "close a panel or this list"],
    ],
  ],
  [
    "Replay",
    [
      ["space or k", "play / pause"],
      ["← →", "back / forward 5 s"],
      ["shift ← →", "back / forward 30 s"],
    ],
  ],
  [
    "Trace",
    [
      ["↑ ↓ or j k", "previous / next span"],
      ["← →", "fold / unfold the span"],
      ["+ − 0", "zoom in / out / all of the trace"],
    ],
  ],
  ["Search box", [["Enter", "search (Tab takes a suggestion)"]]],
];

export const isTyping = (target: EventTarget | null) =>
  target instanceof HTMLElement && (/INPUT|TEXTAREA|SELECT/.test(target.tagName) || target.isContentEditable);

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    box.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" || e.key === "?") {
        e.preventDefault();
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="shortcuts" role="dialog" aria-modal="true" aria-label="Keyboard shortcuts" tabIndex={-1} ref={box}>
        <header>
          <h2>Keyboard shortcuts</h2>
          <button type="button" class="close" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        {SHORTCUTS.map(([group, keys]) => (
          <section key={group}>
            <h3>{group}</h3>
            <dl>
              {keys.map(([key, what]) => (
                <div key={key}>
                  <dt>
                    <kbd>{key}</kbd>
                  </dt>
                  <dd>{what}</dd>
                </div>
              ))}
            </dl>
          </section>
        ))}
      </div>
    </div>
  );
}
