// The JSON API (docs/api.md), typed as the UI uses it.

export type Params = Record<string, string | number | boolean | null | undefined>;

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

export function url(path: string, params: Params = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

async function failure(reply: Response): Promise<ApiError> {
  let detail = `${reply.status} ${reply.statusText}`;
  let position: number | null = null;
  let expected: string | null = null;
  try {
    const body = await reply.json();
    detail = body.detail ?? detail;
    position = body.extra?.position ?? null;
    expected = body.extra?.expected ?? null;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(reply.status, detail, position, expected);
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const reply = await fetch(url(path, params), { signal, headers: { accept: "application/json" } });
  if (!reply.ok) throw await failure(reply);
  return (await reply.json()) as T;
}

export async function patchJson<T>(path: string, body: unknown): Promise<T> {
  const reply = await fetch(path, {
    method: "PATCH",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!reply.ok) throw await failure(reply);
  return (await reply.json()) as T;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Frame {
  file: string | null;
  line: number | null;
  column: number | null;
  function: string | null;
  source: string | null;
}

export interface SessionRow {
  session_id: string;
  identifier: string | null;
  user_object: Record<string, unknown> | null;
  started_ns: number | null;
  last_activity_ns: number | null;
  duration_ms: number | null;
  active_ms: number | null;
  page_count: number | null;
  error_count: number | null;
  console_error_count: number | null;
  click_count: number | null;
  has_rage_clicks: boolean | null;
  first_url: string | null;
  environment: string | null;
  service_name: string | null;
  sdk_version: string | null;
  user_agent: string | null;
  is_initialized: boolean | null;
  live: boolean;
}

export interface Feedback {
  time_ns: number;
  user_name: string | null;
  user_email: string | null;
  verbatim: string | null;
}

export interface SessionDetail extends SessionRow {
  client_config: Record<string, unknown> | null;
  properties: Record<string, unknown> | null;
  project_id: string | null;
  client_id: string | null;
  app_version: string | null;
  firstload_version: string | null;
  privacy_setting: string | null;
  ip: string | null;
  language: string | null;
  first_event_ms: number | null;
  last_event_ms: number | null;
  push_count: number | null;
  event_count: number | null;
  feedback: Feedback[];
  web_vitals: Record<string, number>;
}

export interface Marker {
  kind: "click" | "navigate" | "track" | "identify" | "error" | "feedback" | string;
  time_ms: number;
  label: string;
  detail: Record<string, unknown>;
}

export interface ConsoleLine {
  time_ns: number;
  level: string;
  severity_text: string | null;
  body: string;
  attributes: Record<string, unknown>;
  frames: Frame[] | null;
}

export interface NetworkRequest {
  payload_id: string;
  start_ms: number;
  end_ms: number | null;
  duration_ms: number | null;
  initiator_type: string | null;
  method: string | null;
  url: string;
  status: number | null;
  request_id: string | null;
  trace_id: string | null;
  request_headers: Record<string, string> | null;
  request_body: unknown;
  response_headers: Record<string, string> | null;
  response_body: unknown;
  response_size: number | null;
  transfer_size: number | null;
  backend_trace_id: string | null;
}

export interface SessionError {
  error_id: string;
  group_id?: string | null;
  time_ns: number;
  source: string;
  type: string | null;
  message: string;
  stack: string | null;
  frames: Frame[] | null;
  offset_ms?: number | null;
  url?: string | null;
  trace_id?: string | null;
}
