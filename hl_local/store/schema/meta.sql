-- Key/value facts about the file itself; `schema_version` says which layout the tables follow.
CREATE TABLE hl_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
