// A small history router: the URL (path and query) is the state of every view, so every view
// can be linked to, reloaded and navigated with the browser's back button.
import { useEffect, useState } from "preact/hooks";

type Listener = () => void;
const listeners = new Set<Listener>();

function notify(): void {
  for (const listener of listeners) listener();
}
window.addEventListener("popstate", notify);

export function navigate(url: string, replace = false): void {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  notify();
}

export interface Place {
  path: string;
  params: URLSearchParams;
}

export function useLocation(): Place {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

/** The current URL with some query parameters set (or removed, for null/empty). */
export function withParams(updates: Record<string, string | null | undefined>, path = location.pathname): string {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(updates)) {
    if (value === null || value === undefined || value === "") params.delete(key);
    else params.set(key, value);
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

/** Query parameters worth carrying from one view to another (the time range). */
export function carried(path: string): string {
  const params = new URLSearchParams();
  const current = new URLSearchParams(location.search);
  for (const key of ["range", "start", "end"]) {
    const value = current.get(key);
    if (value) params.set(key, value);
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

export function isPlainClick(event: MouseEvent): boolean {
  return event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;
}

// The last URL each list page showed (its query, range and other filters), so a detail page's back
// link returns to the list as it was, whichever way the detail page was reached.
const LISTS_KEY = "hl-local:lists";
const lists: Record<string, string> = (() => {
  try {
    return JSON.parse(sessionStorage.getItem(LISTS_KEY) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
})();

/** Remember the current URL as the list page of `section` ("/sessions", "/errors", …). */
export function rememberList(section: string): void {
  const here = location.pathname + location.search;
  if (lists[section] === here) return;
  lists[section] = here;
  try {
    sessionStorage.setItem(LISTS_KEY, JSON.stringify(lists));
  } catch {
    // storage may be full or off: the back link then carries only the time range
  }
}

/** Where a back link to `section`'s list goes: the list as it was last shown, else with the range. */
export function backTo(section: string): string {
  return lists[section] ?? carried(section);
}
