// What a view fetches for what it shows: the one place that aborts a fetch whose answer is no
// longer wanted (the view moved on, or unmounted) and keeps an answer with what it was asked for.
import { useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, asApiError } from "./api";

export interface Fetched<T> {
  data: T | null; // null until the first answer for the current `deps`
  error: ApiError | null; // the last fetch's failure (data stays what it was)
  reload: () => void; // fetch again; what is shown stays until the new answer
  set: (data: T) => void; // show this instead (e.g. what a PATCH answered)
}

const same = (a: readonly unknown[], b: readonly unknown[]) =>
  a.length === b.length && a.every((value, i) => Object.is(value, b[i]));

/** `load` whenever `deps` change (as useEffect compares them) or `reload()` is called. An answer for
 * other deps is never shown: with new deps, `data` is null until their answer comes, unless `keep`
 * (then the previous answer stays until it is replaced, as a histogram should). */
export function useFetched<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  keep = false,
): Fetched<T> {
  const [state, setState] = useState<{ deps: readonly unknown[]; data: T | null; error: ApiError | null }>({
    deps,
    data: null,
    error: null,
  });
  const [version, setVersion] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    const abort = new AbortController();
    latest
      .current(abort.signal)
      .then((data) => {
        if (!abort.signal.aborted) setState({ deps, data, error: null });
      })
      .catch((e) => {
        if (!abort.signal.aborted) setState((old) => ({ deps, data: same(old.deps, deps) ? old.data : null, error: asApiError(e) }));
      });
    return () => abort.abort();
  }, [...deps, version]);
  const current = keep || same(state.deps, deps);
  return {
    data: current ? state.data : null,
    error: current ? state.error : null,
    reload: () => setVersion((v) => v + 1),
    set: (data) => setState({ deps, data, error: null }),
  };
}
