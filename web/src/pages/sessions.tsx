// Sessions: every recorded browser session, newest first, searchable, live.
import type { SessionRow } from "../api";
import { Link } from "../components/Link";
import { ListStatus, ListToolbar } from "../components/ListPage";
import { useRange } from "../components/TimeRange";
import { VirtualList } from "../components/VirtualList";
import { ago, dateTime, duration, nsToMs, shortUrl } from "../format";
import { useLive } from "../live";
import { usePaged } from "../paging";
import { carried } from "../router";

const ROW_HEIGHT = 44;

export function identity(session: Pick<SessionRow, "identifier" | "user_object">): string {
  if (session.identifier) return session.identifier;
  const user = session.user_object ?? {};
  const named = user["email"] ?? user["name"] ?? user["id"];
  return typeof named === "string" && named ? named : "anonymous";
}

function SessionLine({ session }: { session: SessionRow }) {
  const started = nsToMs(session.started_ns);
  const errors = session.error_count ?? 0;
  return (
    <Link href={carried(`/sessions/${encodeURIComponent(session.session_id)}`)} class="session-row">
      <span class="cell live-cell">
        {session.live && <span class="live-dot" title="receiving data" aria-label="live" />}
      </span>
      <span class="cell who" title={session.session_id}>
        <strong>{identity(session)}</strong>
        <small>{session.environment || session.service_name || ""}</small>
      </span>
      <span class="cell when" title={dateTime(started)}>
        {ago(started)}
      </span>
      <span class="cell num" title="duration">
        {duration(session.duration_ms)}
      </span>
      <span class="cell num" title="active time">
        {duration(session.active_ms)}
      </span>
      <span class="cell num" title="pages">
        {session.page_count ?? 0}
      </span>
      <span class={`cell num ${errors ? "bad" : "muted"}`} title="errors: the browser's, and the backend errors of the traces its requests started">
        {errors}
      </span>
      <span class="cell url" title={session.first_url ?? ""}>
        {shortUrl(session.first_url)}
      </span>
      <span class="cell flags">{session.has_rage_clicks && <span class="tag warn">rage clicks</span>}</span>
    </Link>
  );
}

export function SessionsPage({ params }: { params: URLSearchParams }) {
  const query = params.get("query") ?? "";
  const range = useRange(params);
  const list = usePaged("/api/sessions", { query, ...range }, (s) => s.session_id);
  useLive(["sessions", "errors"], list.refresh);
  return (
    <section class="page">
      <ListToolbar
        signal="sessions"
        params={params}
        query={query}
        list={list}
        placeholder="Search sessions: identifier=alice@example.com active_length>1m has_errors=true"
      />
      <div class="list-head session-row" aria-hidden="true">
        <span class="cell live-cell" />
        <span class="cell who">User</span>
        <span class="cell when">Started</span>
        <span class="cell num">Length</span>
        <span class="cell num">Active</span>
        <span class="cell num">Pages</span>
        <span class="cell num">Errors</span>
        <span class="cell url">First URL</span>
        <span class="cell flags" />
      </div>
      {list.items.length === 0 && !list.loading ? (
        <Empty query={query} />
      ) : (
        <VirtualList
          label="Sessions"
          items={list.items}
          rowHeight={ROW_HEIGHT}
          onEnd={list.more}
          row={(session) => <SessionLine session={session} />}
        />
      )}
      <ListStatus list={list} noun="session" />
    </section>
  );
}

function Empty({ query }: { query: string }) {
  if (query) return <p class="empty">No session matches this search in this time range.</p>;
  return (
    <div class="empty">
      <p>No sessions recorded yet.</p>
      <p>
        Point the browser SDK here: <code>H.init("1", {"{"} backendUrl: "{location.origin}/public" {"}"})</code>;{" "}
        <Link href="/">the home page</Link> has the whole set-up for each SDK.
      </p>
    </div>
  );
}
