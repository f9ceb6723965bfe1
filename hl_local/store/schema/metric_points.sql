-- One row per OTLP metric data point, whatever the metric type; columns that do not apply are NULL.
CREATE TABLE metric_points (
    time_ns BIGINT NOT NULL,
    start_ns BIGINT NOT NULL,
    metric_name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    metric_type VARCHAR NOT NULL,          -- gauge, sum, histogram, exponential_histogram, summary
    temporality INTEGER,                   -- as sent: 1 delta, 2 cumulative (sum and histograms)
    is_monotonic BOOLEAN,                  -- sum only
    value DOUBLE,                          -- gauge and sum
    count UBIGINT,                         -- histograms and summary
    sum DOUBLE,
    min DOUBLE,
    max DOUBLE,
    bucket_counts UBIGINT[],               -- histogram
    explicit_bounds DOUBLE[],
    exp_scale INTEGER,                     -- exponential histogram
    exp_zero_count UBIGINT,
    exp_zero_threshold DOUBLE,
    exp_positive_offset INTEGER,
    exp_positive_counts UBIGINT[],
    exp_negative_offset INTEGER,
    exp_negative_counts UBIGINT[],
    quantiles VARCHAR,                     -- summary: JSON array of {quantile, value}
    flags UINTEGER NOT NULL,
    exemplars VARCHAR NOT NULL,            -- JSON array of {time_ns, value, trace_id, span_id, attributes}
    service_name VARCHAR NOT NULL,
    service_version VARCHAR NOT NULL,
    environment VARCHAR NOT NULL,
    session_id VARCHAR,                    -- from the point, else an exemplar, else the resource
    request_id VARCHAR,
    project_id VARCHAR,
    scope_name VARCHAR NOT NULL,
    scope_version VARCHAR NOT NULL,
    attributes VARCHAR NOT NULL,
    resource_attributes VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL
);
