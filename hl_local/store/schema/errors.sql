-- One row per error occurrence: browser SDK errors, OTLP exception span events, and log records
-- with exception attributes. group_id is assigned by the writer (store/grouping.py).
CREATE TABLE errors (
    error_id VARCHAR PRIMARY KEY,          -- the SDK's own id (uuid) when it sends one
    time_ns BIGINT NOT NULL,
    source VARCHAR NOT NULL,               -- frontend or backend
    type VARCHAR NOT NULL,                 -- window.onerror, custom, console.error; or the exception type
    message VARCHAR NOT NULL,              -- the SDK's JSON-quoted event text is unquoted
    stack VARCHAR NOT NULL,                -- raw stack text ('' when only frames were sent)
    frames VARCHAR NOT NULL,               -- JSON array of {file, line, column, function, source}
    url VARCHAR,
    error_source VARCHAR,                  -- the SDK's `source`: script URL or unhandledrejection
    line_number INTEGER,
    column_number INTEGER,
    service_name VARCHAR,
    service_version VARCHAR,
    environment VARCHAR,
    session_id VARCHAR,
    payload_id VARCHAR,
    request_id VARCHAR,
    trace_id VARCHAR,
    span_id VARCHAR,
    payload VARCHAR,                       -- JSON text: the caller's payload / remaining attributes
    received_ns BIGINT NOT NULL,
    group_id VARCHAR NOT NULL
);
CREATE INDEX errors_by_group ON errors (group_id);
-- The errors of one trace (the trace view), as logs_by_trace.
CREATE INDEX errors_by_trace ON errors (trace_id);
