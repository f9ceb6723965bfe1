-- WebSocket activity in a session: open/close (from resources) and sent/received/error messages.
CREATE TABLE websocket_events (
    session_id VARCHAR NOT NULL,
    payload_id VARCHAR NOT NULL,
    time_ms DOUBLE NOT NULL,
    socket_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,                 -- open, close, sent, received, error
    url VARCHAR NOT NULL,
    size BIGINT,
    message VARCHAR
);
