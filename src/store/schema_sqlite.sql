-- crier journal, version 1 (SQLite). Times are Unix milliseconds (UTC).

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,
    impact      TEXT NOT NULL,
    components  TEXT NOT NULL DEFAULT '[]',
    started_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    updated_at  INTEGER NOT NULL
);

-- The timeline: one row per update told to customers.
CREATE TABLE updates (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id    TEXT NOT NULL REFERENCES incidents(id),
    seq            INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    slots          TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    approved_by    TEXT NOT NULL,
    sent_by        TEXT NOT NULL,
    channels       TEXT NOT NULL,
    audience       TEXT,
    headline       TEXT NOT NULL,
    summary        TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    planned        INTEGER NOT NULL DEFAULT 0,
    planned_rows   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (incident_id, seq)
);
CREATE INDEX updates_fingerprint ON updates (incident_id, fingerprint);

-- The journal: one row per recipient x channel ('*' = one message to everyone).
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    update_id        INTEGER NOT NULL REFERENCES updates(id),
    channel          TEXT NOT NULL,
    recipient_id     TEXT NOT NULL,
    key              TEXT NOT NULL UNIQUE,
    target           TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_attempt_at INTEGER,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    provider_id      TEXT,
    in_doubt         INTEGER NOT NULL DEFAULT 0,
    updated_at       INTEGER NOT NULL,
    sent_at          INTEGER
);
CREATE INDEX deliveries_due ON deliveries (update_id, channel, state, next_attempt_at);

-- Audience rows that could not be used, per update.
CREATE TABLE bad_rows (
    update_id    INTEGER NOT NULL REFERENCES updates(id),
    row          INTEGER NOT NULL,
    recipient_id TEXT,
    field        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (update_id, row, field)
);

-- The process sending an update right now, so a second one is refused.
CREATE TABLE runs (
    update_id    INTEGER PRIMARY KEY REFERENCES updates(id),
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

-- `crier halt`: scope is an incident id, or '*' for everything.
CREATE TABLE halts (
    scope TEXT PRIMARY KEY,
    at    INTEGER NOT NULL
);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    command TEXT NOT NULL,
    detail  TEXT NOT NULL
);
