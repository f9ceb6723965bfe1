-- One row per trace, kept by the writer in the transaction that stores its spans or errors
-- (store/writes.py): the trace list reads these rather than summarising every span of every trace
-- (4 s at 10M spans). Figures are over all of a trace's spans, as the list shows them.
CREATE TABLE trace_summaries (
    trace_id VARCHAR PRIMARY KEY,
    start_ns BIGINT,                       -- min(start_ns) of its spans; NULL while only errors are known
    end_ns BIGINT,                         -- max(end_ns)
    span_count BIGINT NOT NULL,
    listed_span_count BIGINT NOT NULL,     -- spans other than the SDKs' highlight.log wrappers
    error_span_count BIGINT NOT NULL,      -- spans with status_code 2
    error_count BIGINT NOT NULL,           -- errors stored with this trace id
    root_is_root BOOLEAN NOT NULL,         -- the root below has no parent (else: the earliest span)
    root_start_ns BIGINT,
    root_span_id VARCHAR,
    root_span_name VARCHAR,
    root_service_name VARCHAR,
    first_received_ns BIGINT NOT NULL,     -- the first time a span or error of it was stored
    received_ns BIGINT NOT NULL,           -- the last time (retention: store/kept_retention.py)
    -- What views.sql trace_sessions links a trace to a session by, kept here so that it reads one
    -- row per trace rather than every span: the least of its spans' own sessions
    -- (highlight.session_id), and of their browser request ids (highlight.trace_id). Last: schema 6
    -- added them (ALTER TABLE appends).
    session_id VARCHAR,
    request_id VARCHAR
);
