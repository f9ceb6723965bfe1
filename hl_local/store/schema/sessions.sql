-- One row per browser session recorded by the Highlight SDK (session_id = its session_secure_id).
-- initializeSession fills the client columns; every push folds its counts in (see replay_chunks).
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
    first_url VARCHAR,
    identifier VARCHAR,                    -- identifySession user_identifier
    user_object VARCHAR,                   -- identifySession user_object, JSON object
    properties VARCHAR,                    -- addSessionProperties, merged, JSON object
    started_ns BIGINT NOT NULL,            -- first initializeSession or push received
    last_activity_ns BIGINT NOT NULL,      -- last request received for the session
    first_event_ms BIGINT,                 -- rrweb timestamps (epoch ms): duration = last - first
    last_event_ms BIGINT,
    active_ms BIGINT NOT NULL DEFAULT 0,   -- time with user interaction gaps under 10 s
    last_interaction_ms BIGINT,
    push_count INTEGER NOT NULL DEFAULT 0,
    event_count BIGINT NOT NULL DEFAULT 0,
    page_count INTEGER NOT NULL DEFAULT 0,  -- Navigate and Reload events
    click_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    console_error_count INTEGER NOT NULL DEFAULT 0,
    has_rage_clicks BOOLEAN NOT NULL DEFAULT false
);
