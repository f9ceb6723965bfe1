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

-- Browser errors that came over OTLP (LaunchDarkly's observability plugin sends them as exception
-- events; highlight.run's come inside its pushes, counted by their chunk, and never over OTLP).
CREATE VIEW otlp_session_errors AS
SELECT session_id, count(*) AS error_count FROM errors
WHERE source = 'frontend' AND payload_id IS NULL AND session_id IS NOT NULL
GROUP BY session_id;

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
       coalesce(t.error_count, 0) + coalesce(o.error_count, 0) AS error_count,
       coalesce(t.console_error_count, 0) AS console_error_count,
       coalesce(t.has_rage_clicks, false) AS has_rage_clicks
FROM sessions AS s FULL OUTER JOIN session_stats AS t ON t.session_id = s.session_id
LEFT JOIN otlp_session_errors AS o ON o.session_id = coalesce(s.session_id, t.session_id);

-- Correlation, resolved when read so it works whichever side arrives first.
-- A trace belongs to a session when any of its spans carries the session (Node sets it only on
-- the root span), when a span's highlight.trace_id is the request id of a network request the
-- browser recorded, or when the browser's traceparent started the trace. The spans' side is read
-- from trace_summaries (one row per trace, the least session and request id of its spans): over the
-- spans themselves, the sessions of a page of 100 log lines took ~58 ms at 5M spans.
CREATE VIEW trace_sessions AS
SELECT trace_id, arg_min(session_id, rank) AS session_id
FROM (
    SELECT trace_id, session_id, 0 AS rank FROM trace_summaries WHERE session_id IS NOT NULL
    UNION ALL
    SELECT t.trace_id, n.session_id, 1 AS rank
    FROM trace_summaries AS t JOIN network_requests AS n ON n.request_id = t.request_id
    UNION ALL
    SELECT trace_id, session_id, 2 AS rank FROM network_requests WHERE trace_id IS NOT NULL
)
GROUP BY trace_id;

-- Request and response headers of a browser request span: its `<prefix><name>` attributes as one
-- JSON object, credentials redacted as decode/highlight.py redacts recorded headers.
CREATE MACRO span_headers(attributes, prefix) AS to_json(map_from_entries(list_transform(
    list_filter(json_keys(attributes), lambda k: starts_with(k, prefix)),
    lambda k: {'k': substr(k, length(prefix) + 1),
               'v': CASE WHEN lower(substr(k, length(prefix) + 1)) IN ('authorization', 'cookie',
                        'set-cookie', 'proxy-authorization', 'token', 'x-api-key', 'x-auth-token')
                    THEN '[REDACTED]' ELSE json_extract_string(attributes, '$."' || k || '"') END})))::VARCHAR;

-- The browser's own fetch/XHR spans (highlight.type = http.request, with the bodies and headers the
-- SDK recorded) as network requests. LaunchDarkly's observability plugin records requests only
-- this way; highlight.run sends them both in its pushes and as these spans.
CREATE VIEW browser_network_spans AS
SELECT session_id, span_id AS payload_id, start_ns / 1e6 AS start_ms, end_ns / 1e6 AS end_ms,
       duration_ns / 1e6 AS duration_ms,
       CASE scope_name WHEN '@opentelemetry/instrumentation-fetch' THEN 'fetch' ELSE 'xmlhttprequest' END
           AS initiator_type,
       coalesce(attr_http_request_method, attr_http_method) AS method,
       coalesce(json_extract_string(attributes, '$."url.full"'),
                json_extract_string(attributes, '$."http.url"'), '') AS url,
       TRY_CAST(coalesce(attr_http_response_status_code, attr_http_status_code) AS INTEGER) AS status,
       nullif(split_part(split_part(json_extract_string(attributes,
           '$."http.request.header.x-highlight-request"'), ',', 1), '/', 2), '') AS request_id,
       trace_id,
       span_headers(attributes, 'http.request.header.') AS request_headers,
       nullif(json_extract_string(attributes, '$."http.request.body"'), '') AS request_body,
       span_headers(attributes, 'http.response.header.') AS response_headers,
       nullif(json_extract_string(attributes, '$."http.response.body"'), '') AS response_body,
       TRY_CAST(json_extract_string(attributes, '$."http.response_content_length"') AS BIGINT)
           AS response_size,
       NULL::BIGINT AS transfer_size, NULL::BIGINT AS encoded_body_size, NULL::BIGINT AS decoded_body_size,
       NULL::VARCHAR AS next_hop_protocol, NULL::VARCHAR AS timings, NULL::BOOLEAN AS url_blocked
FROM spans
WHERE source = 'frontend' AND session_id IS NOT NULL
  AND scope_name IN ('@opentelemetry/instrumentation-fetch', '@opentelemetry/instrumentation-xml-http-request')
  AND json_extract_string(attributes, '$."highlight.type"') = 'http.request';

-- A session's network requests: what its pushes recorded, else (a session whose pushes carry none,
-- as LaunchDarkly's replay plugin's never do) its browser request spans. Never both, so a
-- highlight.run request is listed once.
CREATE VIEW session_network_requests AS
SELECT * FROM network_requests
UNION ALL BY NAME
SELECT b.* FROM browser_network_spans AS b
WHERE NOT EXISTS (SELECT 1 FROM network_requests AS n WHERE n.session_id = b.session_id);

-- Each recorded network request with the backend trace it started: by the X-Highlight-Request
-- request id (Python and Go SDKs store it as highlight.trace_id) or the traceparent trace id.
CREATE VIEW network_request_traces AS
SELECT n.*, coalesce(by_request.trace_id, by_traceparent.trace_id) AS backend_trace_id
FROM session_network_requests AS n
LEFT JOIN (
    SELECT request_id, arg_min(trace_id, start_ns) AS trace_id FROM spans
    WHERE request_id IS NOT NULL GROUP BY request_id
) AS by_request ON by_request.request_id = n.request_id
LEFT JOIN (
    -- a trace the backend took part in: the browser's own fetch span (frontend) alone is not one
    SELECT DISTINCT trace_id FROM spans WHERE coalesce(source, '') <> 'frontend'
) AS by_traceparent ON by_traceparent.trace_id = n.trace_id;

-- Logs, errors and spans with the session they belong to, directly or through their trace.
CREATE VIEW linked_logs AS
SELECT l.*, coalesce(l.session_id, t.session_id) AS linked_session_id
FROM logs AS l LEFT JOIN trace_sessions AS t ON t.trace_id = l.trace_id AND l.trace_id <> '';

CREATE VIEW linked_errors AS
SELECT e.*, coalesce(e.session_id, t.session_id) AS linked_session_id
FROM errors AS e LEFT JOIN trace_sessions AS t ON t.trace_id = e.trace_id;

CREATE VIEW linked_spans AS
SELECT s.*, coalesce(s.session_id, t.session_id) AS linked_session_id
FROM spans AS s LEFT JOIN trace_sessions AS t ON t.trace_id = s.trace_id;

-- Spans as a trace list shows them: highlight.log / highlight.go.log are wrappers the SDKs open
-- around a log line (their log lines and errors are kept), not operations anyone traced.
-- (Without linked_session_id: a list resolves the sessions of its page's traces only.)
CREATE VIEW listed_spans AS
SELECT * FROM spans WHERE name NOT IN ('highlight.log', 'highlight.go.log');
