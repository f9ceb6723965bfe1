-- One row per feature flag evaluation an SDK recorded as a span event (LaunchDarkly's plugins and
-- Highlight's LaunchDarkly integration: `feature_flag` / `feature_flag.evaluation` events with
-- `feature_flag.*` attributes). Keyed by the event, so a resent span batch stores it once.
CREATE TABLE flag_evaluations (
    trace_id VARCHAR NOT NULL,
    span_id VARCHAR NOT NULL,
    event_index INTEGER NOT NULL,          -- the event's place among its span's events
    time_ns BIGINT NOT NULL,
    session_id VARCHAR,
    flag_key VARCHAR NOT NULL,             -- feature_flag.key
    value VARCHAR,                         -- feature_flag.result.value: a JSON string unquoted, else its JSON text
    variation_index VARCHAR,               -- feature_flag.result.variationIndex
    reason_kind VARCHAR,                   -- feature_flag.result.reason.kind (FALLTHROUGH, RULE_MATCH, ...)
    reason VARCHAR NOT NULL,               -- JSON object: every feature_flag.result.reason.* attribute
    context_id VARCHAR,                    -- feature_flag.context.id
    context_keys VARCHAR,                  -- feature_flag.contextKeys, JSON text as sent
    provider VARCHAR,                      -- feature_flag.provider.name
    set_id VARCHAR,                        -- feature_flag.set.id: the LaunchDarkly environment
    source VARCHAR,                        -- frontend for browser SDKs
    service_name VARCHAR NOT NULL,
    attributes VARCHAR NOT NULL,           -- JSON object: the event's attributes as sent
    received_ns BIGINT NOT NULL,
    PRIMARY KEY (trace_id, span_id, event_index)
);
CREATE INDEX flag_evaluations_by_session ON flag_evaluations (session_id);
