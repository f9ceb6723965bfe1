-- The words of log lines per minute and level (decode/tokens.py says which tokens), kept by the
-- writer with the lines (store/writes.py): a bare-word search reads these first, so a level
-- histogram of a common word sums counts instead of matching every body (3 s over 13M lines), and
-- the newest lines of a rare word are looked for only in the minutes that have it. One row per
-- word, minute, level and request (received_ns); readers sum them.
CREATE TABLE log_tokens (
    token VARCHAR NOT NULL,
    bucket_ns BIGINT NOT NULL,             -- the minute of the lines' time_ns (rounded down)
    level VARCHAR NOT NULL,
    lines BIGINT NOT NULL,                 -- lines with the word (negative: lines removed since)
    received_ns BIGINT NOT NULL
);
