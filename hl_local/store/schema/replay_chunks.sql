-- One row per PushSessionEvents (or pushPayloadCompressed / pushPayload): the rrweb events exactly
-- as sent, plus what the push adds to its session's counts. The key makes a retried push a no-op.
CREATE TABLE replay_chunks (
    session_id VARCHAR NOT NULL,
    payload_id VARCHAR NOT NULL,           -- Date.now() of the push, as the SDK sent it
    first_ms BIGINT,                       -- smallest and largest rrweb timestamp in the chunk
    last_ms BIGINT,
    event_count INTEGER NOT NULL,
    has_full_snapshot BOOLEAN NOT NULL,
    events VARCHAR NOT NULL,               -- JSON array of the rrweb events, byte for byte as sent
    is_beacon BOOLEAN NOT NULL,
    has_session_unloaded BOOLEAN NOT NULL,
    first_url VARCHAR,                     -- Meta href / first Navigate in the chunk
    page_count INTEGER NOT NULL,
    click_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    console_error_count INTEGER NOT NULL,
    first_interaction_ms BIGINT,
    last_interaction_ms BIGINT,
    active_ms BIGINT NOT NULL,             -- active time inside the chunk
    has_rage_clicks BOOLEAN NOT NULL,
    received_ns BIGINT NOT NULL,
    PRIMARY KEY (session_id, payload_id)
);
