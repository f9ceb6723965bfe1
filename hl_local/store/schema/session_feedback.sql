-- addSessionFeedback: what users said, tied to their session and moment.
CREATE TABLE session_feedback (
    session_id VARCHAR NOT NULL,
    time_ns BIGINT NOT NULL,
    user_name VARCHAR,
    user_email VARCHAR,
    verbatim VARCHAR NOT NULL,
    received_ns BIGINT NOT NULL,
    PRIMARY KEY (session_id, time_ns, verbatim)  -- a retried call is stored once
);
