// What every list page has around its rows: the search and time range on top (a query that does
// not parse is shown in the search box; other failures under it), and a status line below.
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import type { Paged } from "../paging";
import { rememberList } from "../router";
import { SearchBar, type Signal } from "./SearchBar";
import { TimeRange } from "./TimeRange";

export function ListToolbar<T>({ signal, params, query, list, placeholder, children, onSearch }: {
  signal: Signal;
  params: URLSearchParams;
  query: string;
  list: Paged<T>;
  placeholder: string;
  children?: ComponentChildren; // controls between the search box and the time range
  onSearch?: (query: string) => boolean;
}) {
  const error = list.error;
  // the list as it is now is where its detail pages' back links return
  useEffect(() => rememberList(location.pathname), [params.toString()]);
  return (
    <>
      <div class="toolbar">
        <SearchBar
          signal={signal}
          query={query}
          error={error?.status === 400 ? error : null}
          placeholder={placeholder}
          onSearch={onSearch}
        />
        {children}
        <TimeRange params={params} />
      </div>
      {error && error.status !== 400 && <p class="error-note">{error.message}</p>}
    </>
  );
}

/** "12 sessions · scroll for more", with what the page adds (" · open") after the count. */
export function ListStatus<T>({ list, noun, children }: { list: Paged<T>; noun: string; children?: ComponentChildren }) {
  const count = list.items.length;
  return (
    <footer class="status">
      {count} {noun}
      {count === 1 ? "" : "s"}
      {children}
      {list.done ? "" : list.loading ? " · loading…" : " · scroll for more"}
    </footer>
  );
}
