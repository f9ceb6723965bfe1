-- One row per browser session recorded by the Highlight SDK (session_id = its session_secure_id):
-- what initializeSession, identifySession and addSessionProperties said. Counts, duration and
-- active time are derived from the pushes by the session_stats view (views.sql), so writing a
-- push never updates this table.
CREATE TABLE sessions (
    session_id VARCHAR PRIMARY KEY,
    initialized BOOLEAN NOT NULL DEFAULT false,  -- false while only pushes were seen
    project_id VARCHAR,                    -- organization_verbose_id, as given to H.init
    client_id VARCHAR,                     -- the browser's persistent client id
    session_key VARCHAR,
    sdk_version VARCHAR,                   -- clientVersion
    firstload_version VARCHAR,
    client_config VARCHAR,                 -- the H.init options, JSON text as sent
    environment VARCHAR,
    app_version VARCHAR,
    service_name VARCHAR,
    privacy_setting VARCHAR,
    enable_strict_privacy BOOLEAN,
    enable_recording_network_contents BOOLEAN,
    disable_session_recording BOOLEAN,
    network_recording_domains VARCHAR,     -- JSON array
    user_agent VARCHAR,
    ip VARCHAR,
    language VARCHAR,                      -- Accept-Language of initializeSession
    identifier VARCHAR,                    -- identifySession user_identifier
    user_object VARCHAR,                   -- identifySession user_object, JSON object
    properties VARCHAR,                    -- addSessionProperties, merged, JSON object
    started_ns BIGINT NOT NULL,            -- first initializeSession (or call) received
    last_activity_ns BIGINT NOT NULL,      -- last session call received (pushes: see session_stats)
    origin VARCHAR                         -- the Origin header of its first initializeSession: the page
                                           -- that sent it (schema 3; NULL when none was sent)
);
