// An error group in depth: what its occurrences have in common (service, environment, version,
// browser, OS, URL), and the sessions they hit, each opening the replay at the first occurrence with
// the error selected. Both follow the list's time range.
import { getApi } from "../api";
import { Link } from "../components/Link";
import { useRange } from "../components/TimeRange";
import { replayHref, shortId } from "../components/telemetry";
import { useFetched } from "../fetched";
import { ago, dateTime } from "../format";
import { useLive } from "../live";

export function GroupFacets({ groupId, params }: { groupId: string; params: URLSearchParams }) {
  const range = useRange(params);
  const fetched = useFetched(
    (signal) => getApi("/api/error-groups/{group_id}/facets", { group_id: groupId, ...range }, signal),
    [groupId, range],
    true,
  );
  useLive(["errors"], fetched.reload, 3000);
  const data = fetched.data;
  if (!data || !data.occurrences) return null;
  return (
    <div class="facets" aria-label="What the occurrences have in common">
      {data.facets.map((facet) => (
        <div key={facet.key} class="facet">
          <h5>{facet.label}</h5>
          <ol>
            {facet.values.map((v) => (
              <li key={v.value ?? "(none)"} title={`${v.value ?? "not known"}: ${v.count} of ${data.occurrences}`}>
                <span class="facet-bar" style={{ width: `${(v.count / data.occurrences) * 100}%` }} aria-hidden="true" />
                <span class={`facet-value ${v.value === null ? "muted" : ""}`}>{v.value ?? "not known"}</span>
                <span class="facet-count">{Math.round((v.count / data.occurrences) * 100)}%</span>
              </li>
            ))}
            {facet.other > 0 && (
              <li class="muted">
                <span class="facet-value">others</span>
                <span class="facet-count">{Math.round((facet.other / data.occurrences) * 100)}%</span>
              </li>
            )}
          </ol>
        </div>
      ))}
    </div>
  );
}

export function GroupSessions({ groupId, params }: { groupId: string; params: URLSearchParams }) {
  const range = useRange(params);
  const fetched = useFetched(
    (signal) => getApi("/api/error-groups/{group_id}/sessions", { group_id: groupId, ...range }, signal),
    [groupId, range],
    true,
  );
  useLive(["errors", "sessions"], fetched.reload, 3000);
  const items = fetched.data?.items;
  if (!items) return null;
  return (
    <div class="affected">
      <h4>
        Affected sessions <span class="muted">({items.length})</span>
      </h4>
      {items.length === 0 ? (
        <p class="muted small">None of its occurrences belongs to a session (directly or through its trace).</p>
      ) : (
        <ol class="affected-sessions" aria-label="Affected sessions">
          {items.map((s) => {
            const label = s.identifier || `session ${shortId(s.session_id)}`;
            return (
              <li key={s.session_id}>
                {s.started_ns !== null ? (
                  <Link
                    href={replayHref(s.session_id, s.offset_ms !== null ? Math.max(0, s.offset_ms) : null, {
                      tab: "errors",
                      error: s.first_error_id,
                    })}
                    title={`Replay session ${s.session_id} at its first occurrence`}
                  >
                    {label}
                  </Link>
                ) : (
                  <span class="muted" title={`Session ${s.session_id} is named by the telemetry, but was never recorded`}>
                    {label} (no replay)
                  </span>
                )}
                <span class="muted small">{s.environment ?? ""}</span>
                <span class="num">
                  {s.occurrences}×
                </span>
                <span class="muted small" title={dateTime(s.last_error_ns / 1e6)}>
                  last {ago(s.last_error_ns / 1e6)}
                </span>
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
