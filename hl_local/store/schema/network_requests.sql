-- Network resources recorded in a session: fetch/XHR with headers and bodies when the SDK records
-- them, plus every other resource the page loaded. Times are epoch ms as the SDK measured them.
CREATE TABLE network_requests (
    session_id VARCHAR NOT NULL,
    payload_id VARCHAR NOT NULL,
    start_ms DOUBLE NOT NULL,
    end_ms DOUBLE,
    duration_ms DOUBLE,
    initiator_type VARCHAR NOT NULL,       -- fetch, xmlhttprequest, script, img, ...
    method VARCHAR,
    url VARCHAR NOT NULL,
    status INTEGER,
    request_id VARCHAR,                    -- the X-Highlight-Request request part: links a backend trace
    trace_id VARCHAR,                      -- from the traceparent request header
    request_headers VARCHAR,               -- JSON object; credentials redacted
    request_body VARCHAR,
    response_headers VARCHAR,
    response_body VARCHAR,
    response_size BIGINT,
    transfer_size BIGINT,
    encoded_body_size BIGINT,
    decoded_body_size BIGINT,
    next_hop_protocol VARCHAR,
    timings VARCHAR,                       -- JSON: the remaining timing fields as sent
    url_blocked BOOLEAN
);
CREATE INDEX network_requests_by_session ON network_requests (session_id);
