-- Errors grouped as Highlight grouped them (store/grouping.py). Counts and times are kept up to
-- date by the writer; the state is the user's: resolved groups reopen on a new occurrence.
CREATE TABLE error_groups (
    group_id VARCHAR PRIMARY KEY,
    title VARCHAR NOT NULL,                -- the first member's message
    type VARCHAR NOT NULL,
    source VARCHAR NOT NULL,               -- frontend or backend
    service_name VARCHAR,
    first_seen_ns BIGINT NOT NULL,
    last_seen_ns BIGINT NOT NULL,
    occurrences BIGINT NOT NULL,
    state VARCHAR NOT NULL DEFAULT 'open', -- open, resolved, ignored
    state_changed_ns BIGINT,
    stack VARCHAR NOT NULL,                -- the newest member's stack and frames
    frames VARCHAR NOT NULL,
    fingerprints VARCHAR NOT NULL          -- JSON: the newest member's frame fingerprints
);
