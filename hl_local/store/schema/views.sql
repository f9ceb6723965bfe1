-- Per-session figures derived from the pushes (replay_chunks carries each push's own counts), and
-- the session list: every session that initialized or pushed, with its figures.
-- Active time: interaction gaps under 10 s (Highlight's threshold), within a push and between
-- the last interaction of one push and the first of the next.
CREATE VIEW session_stats AS
WITH gaps AS (
    SELECT session_id,
           first_interaction_ms
             - lag(last_interaction_ms) OVER (PARTITION BY session_id ORDER BY first_interaction_ms) AS gap_ms
    FROM replay_chunks
    WHERE first_interaction_ms IS NOT NULL
),
bridged AS (
    SELECT session_id, sum(gap_ms) AS gap_ms FROM gaps WHERE gap_ms BETWEEN 0 AND 10000 GROUP BY session_id
)
SELECT c.session_id,
       count(*) AS push_count,
       sum(c.event_count) AS event_count,
       sum(c.page_count) AS page_count,
       sum(c.click_count) AS click_count,
       sum(c.error_count) AS error_count,
       sum(c.console_error_count) AS console_error_count,
       bool_or(c.has_rage_clicks) AS has_rage_clicks,
       min(c.first_ms) AS first_event_ms,
       max(c.last_ms) AS last_event_ms,
       arg_min(c.first_url, c.first_ms) FILTER (WHERE c.first_url IS NOT NULL) AS first_url,
       sum(c.active_ms) + coalesce(any_value(b.gap_ms), 0) AS active_ms,
       min(c.received_ns) AS first_push_ns,
       max(c.received_ns) AS last_push_ns
FROM replay_chunks AS c LEFT JOIN bridged AS b ON b.session_id = c.session_id
GROUP BY c.session_id;

CREATE VIEW session_summaries AS
SELECT coalesce(s.session_id, t.session_id) AS session_id,
       s.* EXCLUDE (session_id, initialized, started_ns, last_activity_ns),
       coalesce(s.initialized, false) AS is_initialized,
       least(s.started_ns, t.first_push_ns) AS started_ns,
       greatest(s.last_activity_ns, t.last_push_ns) AS last_activity_ns,
       coalesce(t.first_url, NULL) AS first_url,
       t.first_event_ms,
       t.last_event_ms,
       coalesce(t.last_event_ms - t.first_event_ms, 0) AS duration_ms,
       coalesce(t.active_ms, 0) AS active_ms,
       coalesce(t.push_count, 0) AS push_count,
       coalesce(t.event_count, 0) AS event_count,
       coalesce(t.page_count, 0) AS page_count,
       coalesce(t.click_count, 0) AS click_count,
       coalesce(t.error_count, 0) AS error_count,
       coalesce(t.console_error_count, 0) AS console_error_count,
       coalesce(t.has_rage_clicks, false) AS has_rage_clicks
FROM sessions AS s FULL OUTER JOIN session_stats AS t ON t.session_id = s.session_id;
