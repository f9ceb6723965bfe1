-- Highlight's custom rrweb events (type 5: Click, Navigate, Track, Identify, Focus, Reload, ...):
-- searchable, and the markers of a replay's timeline.
CREATE TABLE session_events (
    session_id VARCHAR NOT NULL,
    payload_id VARCHAR NOT NULL,
    time_ms BIGINT NOT NULL,               -- rrweb timestamp, epoch ms
    sid BIGINT,                            -- rrweb _sid, restarts on every page load
    kind VARCHAR NOT NULL,                 -- the custom event's tag
    payload VARCHAR NOT NULL,              -- a string payload as is, anything else as JSON text
    selector VARCHAR,                      -- Click: clickSelector; Focus: the selector
    text VARCHAR                           -- Click: clickTextContent
);
CREATE INDEX session_events_by_session ON session_events (session_id);
