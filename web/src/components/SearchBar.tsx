// The search box: the search language (docs/search.md) with key and value suggestions from
// /api/suggest, and a query that does not parse shown inline with a mark where it went wrong.
// Enter always searches (Tab or a click takes a suggestion); clearing the box searches everything.
import { useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, type KeySuggestions, getApi } from "../api";
import { navigate, withParams } from "../router";

export type Signal = KeySuggestions["signal"];

interface Suggestion {
  text: string; // what replaces the token being typed
  label: string;
  hint?: string;
}

/** The token under the caret: a key being typed, or a value after `key=` / `key:`. */
function tokenAt(text: string, caret: number): { start: number; key: string | null; partial: string } {
  let start = caret;
  while (start > 0 && !/[\s()]/.test(text[start - 1])) start--;
  const token = text.slice(start, caret);
  const split = token.search(/!=|>=|<=|[=:<>]/);
  if (split > 0) {
    const op = token.slice(split).match(/^(!=|>=|<=|[=:<>])/)![0];
    return { start: start + split + op.length, key: token.slice(0, split), partial: token.slice(split + op.length) };
  }
  return { start, key: null, partial: token.replace(/^-/, "") };
}

async function suggestions(signal: Signal, text: string, caret: number): Promise<[number, Suggestion[]]> {
  const { start, key, partial } = tokenAt(text, caret);
  if (key) {
    const reply = await getApi("/api/suggest/values", { signal, key, prefix: partial.replace(/^"/, "") });
    const items = reply.values.map((v) => {
      const quoted = /[\s()"]/.test(v.value) || v.value === "" ? JSON.stringify(v.value) : v.value;
      return { text: quoted, label: v.value, hint: String(v.count) };
    });
    return [start, items];
  }
  if (!partial) return [start, []];
  const reply = await getApi("/api/suggest/keys", { signal, prefix: partial });
  return [start, reply.keys.map((k) => ({ text: `${k.key}=`, label: k.key, hint: k.kind }))];
}

export function SearchBar({ signal, query, error, placeholder, onSearch }: {
  signal: Signal;
  query: string;
  error: ApiError | null;
  placeholder: string;
  onSearch?: (query: string) => boolean; // true: it handled the query (e.g. a pasted id opened its page)
}) {
  const [text, setText] = useState(query);
  const [items, setItems] = useState<Suggestion[]>([]);
  const [from, setFrom] = useState(0);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const request = useRef(0);

  useEffect(() => setText(query), [query]);
  useEffect(() => {
    const focus = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key === "/" && !/INPUT|TEXTAREA|SELECT/.test(target.tagName)) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    window.addEventListener("keydown", focus);
    return () => window.removeEventListener("keydown", focus);
  }, []);

  const refresh = (value: string, caret: number) => {
    const mine = ++request.current;
    suggestions(signal, value, caret)
      .then(([start, found]) => {
        if (mine !== request.current) return;
        setFrom(start);
        setItems(found.slice(0, 12));
        setActive(0);
      })
      .catch(() => setItems([]));
  };
  const submit = (value: string) => {
    setItems([]);
    request.current++; // a suggestion still on its way must not pop up over the results
    if (onSearch?.(value.trim())) return;
    navigate(withParams({ query: value.trim() || null, cursor: null }));
  };
  const complete = (choice: Suggestion) => {
    const caret = input.current?.selectionStart ?? text.length;
    const next = text.slice(0, from) + choice.text + text.slice(caret);
    setText(next);
    setItems([]);
    const at = from + choice.text.length;
    requestAnimationFrame(() => {
      input.current?.setSelectionRange(at, at);
      if (choice.text.endsWith("=")) refresh(next, at);
    });
  };
  const onKey = (e: KeyboardEvent) => {
    if (items.length && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      setActive((a) => (a + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length);
    } else if (items.length && e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      complete(items[active]);
    } else if (e.key === "Enter") {
      e.preventDefault();
      submit(text);
    } else if (e.key === "Escape") {
      setItems([]);
    }
  };
  const position = error?.position ?? null;
  return (
    <div class="search">
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          submit(text);
        }}
      >
        <input
          ref={input}
          class={error ? "invalid" : ""}
          type="search"
          spellcheck={false}
          autocomplete="off"
          aria-label="Search"
          aria-invalid={error ? "true" : "false"}
          placeholder={placeholder}
          value={text}
          onInput={(e) => {
            const value = e.currentTarget.value;
            setText(value);
            // the box's × (or deleting everything) clears the search at once
            if (value === "" && query !== "") submit("");
            else refresh(value, e.currentTarget.selectionStart ?? value.length);
          }}
          onKeyDown={onKey}
          onBlur={() => setTimeout(() => setItems([]), 150)}
        />
        {items.length > 0 && (
          <ul class="suggestions" role="listbox">
            {items.map((item, i) => (
              <li
                key={item.label}
                role="option"
                aria-selected={i === active}
                class={i === active ? "active" : ""}
                onMouseDown={(e) => {
                  e.preventDefault();
                  complete(item);
                }}
              >
                <span>{item.label}</span>
                {item.hint && <span class="hint">{item.hint}</span>}
              </li>
            ))}
          </ul>
        )}
      </form>
      {error && (
        <div class="search-error" role="alert">
          {position !== null && (
            <pre class="caret">
              {query}
              {"\n"}
              {" ".repeat(Math.max(0, position))}^
            </pre>
          )}
          <span>{error.message}</span>
        </div>
      )}
    </div>
  );
}
