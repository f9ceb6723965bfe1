// The JSON API (docs/api.md): its types are generated from the server's OpenAPI document into
// api.gen.ts (tools/api_types.py); here, fetching typed by path.
import type { ApiGet, ErrorBody, ErrorGroup, LiveChange, Timeline } from "./api.gen";

export type * from "./api.gen";

export type Params = Record<string, string | number | boolean | null | undefined>;
export type ApiPath = keyof ApiGet;
export type State = ErrorGroup["state"];
export type Marker = Timeline["items"][number];
export type Topic = LiveChange["topics"][number];

/** The `{name}` parameters of a path template, as an object of strings. */
type PathIds<P extends string> = P extends `${string}{${infer K}}${infer Rest}`
  ? { [key in K]: string } & PathIds<Rest>
  : unknown;

/** The paths of cursor-paged lists (`items`, `next_cursor`; no `{id}` in the path). */
export type ListPath = {
  [P in ApiPath]: P extends `${string}{${string}`
    ? never
    : ApiGet[P] extends { items: unknown[]; next_cursor: string | null }
      ? P
      : never;
}[ApiPath];
export type ItemOf<P extends ListPath> = ApiGet[P] extends { items: (infer T)[] } ? T : never;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly position: number | null = null,
    readonly expected: string | null = null,
  ) {
    super(message);
  }
}

export const asApiError = (e: unknown): ApiError => (e instanceof ApiError ? e : new ApiError(0, String(e)));

export function url(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** `path` with its `{name}` parts taken from `args` (encoded); the other args are the query. */
export function apiUrl<P extends ApiPath>(path: P, args: PathIds<P> & Params): string {
  const query: Params = { ...(args as Params) };
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = String(query[name]);
    delete query[name];
    return encodeURIComponent(value);
  });
  return url(filled, query);
}

async function failure(reply: Response): Promise<ApiError> {
  try {
    const body = (await reply.json()) as ErrorBody;
    const at = body.extra && !Array.isArray(body.extra) ? body.extra : null; // a query that does not parse
    return new ApiError(reply.status, body.detail, at?.position ?? null, at?.expected ?? null);
  } catch {
    return new ApiError(reply.status, `${reply.status} ${reply.statusText}`); // not JSON: the status line
  }
}

async function answer<T>(reply: Response): Promise<T> {
  if (!reply.ok) throw await failure(reply);
  return (await reply.json()) as T;
}

/** GET a URL made by `url` or `apiUrl`, for callers whose path is a type parameter (paging.ts). */
export async function getUrl<T>(target: string, signal?: AbortSignal): Promise<T> {
  return answer<T>(await fetch(target, { signal, headers: { accept: "application/json" } }));
}

/** GET an /api path: `getApi("/api/traces/{trace_id}", { trace_id })` answers a Trace. */
export async function getApi<P extends ApiPath>(
  path: P,
  args: PathIds<P> & Params,
  signal?: AbortSignal,
): Promise<ApiGet[P]> {
  return getUrl<ApiGet[P]>(apiUrl(path, args), signal);
}

export async function patchJson<T>(path: string, body: unknown): Promise<T> {
  const reply = await fetch(path, {
    method: "PATCH",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  return answer<T>(reply);
}
