-- Occurrences of each error group per minute, kept by the writer in the transaction that stores the
-- errors (store/writes.py): the group list's sparklines and counts read these rather than every
-- error (four passes over 3.3M errors took ~270 ms at 10M spans). One row per group, minute and
-- commit; readers sum them.
CREATE TABLE error_group_buckets (
    group_id VARCHAR NOT NULL,
    bucket_ns BIGINT NOT NULL,             -- the minute of the errors' time_ns (rounded down)
    occurrences BIGINT NOT NULL,
    received_ns BIGINT NOT NULL
);
-- What an error group's sessions are made of: 's:' + an error's own session, or 't:' + the trace
-- of an error without one (its session is resolved when read, as linked_errors resolves it).
CREATE TABLE error_group_links (
    group_id VARCHAR NOT NULL,
    link VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL,
    PRIMARY KEY (group_id, link)
);
