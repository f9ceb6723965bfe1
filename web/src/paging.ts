// Cursor-paged lists: the first page for the current query and range, the next pages on demand,
// and a live refresh of the first page that merges new rows in without losing the scroll.
import { useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, type ItemOf, type ListPath, type Params, asApiError, getUrl, url } from "./api";

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: ApiError | null;
  done: boolean;
  more: () => void;
  refresh: () => void;
}

export function usePaged<P extends ListPath, T extends ItemOf<P> = ItemOf<P>>(
  path: P,
  params: Params,
  keyOf: (item: T) => string,
  pageSize = 200,
): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState(false);
  const generation = useRef(0);
  const busy = useRef(false);
  const identity = JSON.stringify([path, params]);

  const load = (append: boolean, after: string | null) => {
    const mine = generation.current;
    busy.current = true;
    setLoading(true);
    getUrl<Page<T>>(url(path, { ...params, limit: pageSize, cursor: after }))
      .then((page) => {
        if (mine !== generation.current) return;
        setItems((old) => (append ? [...old, ...page.items] : page.items));
        setCursor(page.next_cursor);
        setDone(page.next_cursor === null);
        setError(null);
      })
      .catch((e) => {
        if (mine !== generation.current) return;
        setError(asApiError(e));
        if (!append) setItems([]);
        setDone(true);
      })
      .finally(() => {
        if (mine !== generation.current) return;
        busy.current = false;
        setLoading(false);
      });
  };

  useEffect(() => {
    generation.current++;
    setItems([]);
    setCursor(null);
    setDone(false);
    load(false, null);
  }, [identity]);

  const more = () => {
    if (!busy.current && !done && cursor) load(true, cursor);
  };
  // New rows arrive at the top (newest first): refetch the first page and merge it in.
  const refresh = () => {
    const mine = generation.current;
    getUrl<Page<T>>(url(path, { ...params, limit: pageSize }))
      .then((page) => {
        if (mine !== generation.current) return;
        setItems((old) => {
          if (!old.length) return page.items;
          // the first page replaces the rows it covers; older rows stay as they were loaded
          const seen = new Set(page.items.map(keyOf));
          const lastFresh = page.items.length ? keyOf(page.items[page.items.length - 1]) : null;
          const cut = lastFresh === null ? -1 : old.findIndex((item) => keyOf(item) === lastFresh);
          const rest = (cut >= 0 ? old.slice(cut + 1) : old).filter((item) => !seen.has(keyOf(item)));
          return [...page.items, ...rest];
        });
      })
      .catch(() => {});
  };
  return { items, loading, error, done, more, refresh };
}
