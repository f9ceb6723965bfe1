-- Errors derived from OTLP spans and log records that the writer has not grouped and stored yet:
-- it stores them in one batch within 0.5 s rather than with every group (store/error_writes.py),
-- and keeps them here, committed with the rows they came from, until then. A
-- file reopened after a crash stores what is left here first.
CREATE TABLE pending_errors (
    received_ns BIGINT NOT NULL,
    errors BLOB NOT NULL,                  -- msgpack: list of decode/records.py ErrorRow
    error_logs BLOB NOT NULL               -- msgpack: list of ErrorLog
);
