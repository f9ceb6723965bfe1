-- OTLP requests already stored, by a digest of their decoded body: an exporter's retry of a request
-- whose acknowledgement was lost is skipped whole (store/commit.py, store/digests.py: the writer
-- checks the last hour's in memory, so the table has no key to probe). Spans have no key of their
-- own: checking (trace_id, span_id) against a primary key cost the writer ~17 µs a span.
CREATE TABLE request_digests (
    digest VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL
);
