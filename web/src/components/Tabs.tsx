/** A tab strip: a label per tab, with a count when it has one (an errors count shows in red). */
export function Tabs<T extends string>({ tabs, current, onChange }: {
  tabs: [T, string, number | null][];
  current: T;
  onChange: (tab: T) => void;
}) {
  return (
    <div class="tabs" role="tablist">
      {tabs.map(([key, label, count]) => (
        <button
          type="button"
          role="tab"
          key={key}
          aria-selected={current === key}
          class={current === key ? "active" : ""}
          onClick={() => onChange(key)}
        >
          {label}
          {count !== null && <span class={`count ${key === "errors" && count ? "bad" : ""}`}>{count}</span>}
        </button>
      ))}
    </div>
  );
}
