-- One row per OTLP span. Ids are lower-case hex; times are Unix nanoseconds.
-- Attribute maps are JSON text (VARCHAR, not JSON: the cast-check costs 8-35 % of insert speed and
-- DuckDB's JSON functions read VARCHAR all the same).
CREATE TABLE spans (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    parent_span_id VARCHAR NOT NULL,       -- '' for a root span
    trace_state VARCHAR NOT NULL,
    flags UINTEGER NOT NULL,
    name VARCHAR NOT NULL,
    kind INTEGER NOT NULL,                 -- OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer
    start_ns BIGINT NOT NULL,
    end_ns BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    status_code INTEGER NOT NULL,          -- 0 unset, 1 ok, 2 error
    status_message VARCHAR NOT NULL,
    service_name VARCHAR NOT NULL,
    service_version VARCHAR NOT NULL,
    environment VARCHAR NOT NULL,
    session_id VARCHAR,                    -- highlight.session_id (or highlight_session_id); NULL when absent or ''
    request_id VARCHAR,                    -- highlight.trace_id: the browser's request id
    project_id VARCHAR,                    -- highlight.project_id, kept but never required
    source VARCHAR,                        -- highlight.source
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    attributes VARCHAR NOT NULL,           -- JSON object
    resource_attributes VARCHAR NOT NULL,  -- JSON object
    events VARCHAR NOT NULL,               -- JSON array of {time_ns, name, attributes}
    links VARCHAR NOT NULL,                -- JSON array of {trace_id, span_id, trace_state, attributes}
    received_ns BIGINT NOT NULL,
    -- No primary key (schema 3): a resent request is recognised by its digest (request_digests.sql),
    -- and the writer inserts each group's spans sorted by trace, so a trace's rows sit together.
    -- Promoted attributes: one VARCHAR column per key of decode/records.py PROMOTED_ATTRIBUTES
    -- (the attribute, else the resource's, as text), filled by the writer's INSERT from the JSON
    -- columns above. store/schema.py puts them in place of this line:
    -- @promoted_attributes
);
-- One trace by id: ~1 ms instead of a scan.
CREATE INDEX spans_by_trace ON spans (trace_id);
