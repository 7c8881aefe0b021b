-- crier journal, version 1 (PostgreSQL): the tables of the SQLite journal at its version 5.
-- Times are Unix milliseconds (UTC); incident ids sort byte by byte (COLLATE "C"), as SQLite
-- sorts them, whatever the database's collation.

CREATE TABLE incidents (
    id          TEXT COLLATE "C" PRIMARY KEY,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,
    impact      TEXT NOT NULL,
    components  TEXT NOT NULL DEFAULT '[]',
    started_at  BIGINT NOT NULL,
    resolved_at BIGINT,
    updated_at  BIGINT NOT NULL
);

-- The timeline: one row per update told to customers.
CREATE TABLE updates (
    id             BIGSERIAL PRIMARY KEY,
    incident_id    TEXT COLLATE "C" NOT NULL REFERENCES incidents(id),
    seq            BIGINT NOT NULL,
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
    created_at     BIGINT NOT NULL,
    planned        BOOLEAN NOT NULL DEFAULT FALSE,
    planned_rows   BIGINT NOT NULL DEFAULT 0,
    -- When the next customer update is due, as this update promised (NULL: no promise).
    next_update_at BIGINT,
    UNIQUE (incident_id, seq)
);
CREATE INDEX updates_fingerprint ON updates (incident_id, fingerprint);

-- The journal: one row per recipient x channel ('*' = one message to everyone). Only rows
-- waiting to be sent are in the due index.
CREATE TABLE deliveries (
    id               BIGSERIAL PRIMARY KEY,
    update_id        BIGINT NOT NULL REFERENCES updates(id),
    channel          TEXT NOT NULL,
    recipient_id     TEXT NOT NULL,
    key              TEXT NOT NULL UNIQUE,
    target           TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    first_attempt_at BIGINT,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    provider_id      TEXT,
    in_doubt         BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at       BIGINT NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX deliveries_due ON deliveries (update_id, channel, next_attempt_at)
    WHERE state IN ('pending', 'retry');
CREATE INDEX deliveries_update ON deliveries (update_id, channel);

-- Audience rows that could not be used, per update.
CREATE TABLE bad_rows (
    update_id    BIGINT NOT NULL REFERENCES updates(id),
    "row"        BIGINT NOT NULL,
    recipient_id TEXT,
    field        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (update_id, "row", field)
);

-- The process sending an update right now, so a second one is refused.
CREATE TABLE runs (
    update_id    BIGINT PRIMARY KEY REFERENCES updates(id),
    pid          BIGINT NOT NULL,
    host         TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

-- `crier halt`: scope is an incident id, or '*' for everything.
CREATE TABLE halts (
    scope TEXT PRIMARY KEY,
    at    BIGINT NOT NULL
);

CREATE TABLE audit (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    command TEXT NOT NULL,
    detail  TEXT NOT NULL
);

-- Blasts to run later. A due schedule becomes exactly one update: `update_id` is set in the
-- transaction that adds it.
CREATE TABLE schedules (
    id          BIGSERIAL PRIMARY KEY,
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents(id),
    kind        TEXT NOT NULL,
    slots       TEXT NOT NULL,
    channels    TEXT,              -- JSON list; NULL: every customer channel when due
    audience    TEXT,
    due_at      BIGINT NOT NULL,
    typed       TEXT NOT NULL,     -- the time as the operator (or crier.toml) wrote it
    state       TEXT NOT NULL,     -- pending, sending, sent, cancelled, failed
    origin      TEXT NOT NULL,     -- operator, resolution, holding
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    update_id   BIGINT REFERENCES updates(id),
    error       TEXT,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX schedules_due ON schedules (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX schedules_incident ON schedules (incident_id);
-- The holding update of a missed promise is a schedule made once per promise.
CREATE UNIQUE INDEX schedules_holding ON schedules (incident_id, typed) WHERE origin = 'holding';

-- One row per nudge and internal channel ('-' when there is none: the worker's log only).
CREATE TABLE nudges (
    about       TEXT NOT NULL,     -- promise:UPDATE:soon, promise:UPDATE:missed, schedule:ID:failed
    channel     TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    state       TEXT NOT NULL,     -- sending, sent, failed
    attempts    BIGINT NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (about, channel)
);

-- The maintenance switch (`crier maintenance on|off`): one row while it is on.
CREATE TABLE maintenance (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    incident_id TEXT,
    since       BIGINT NOT NULL,
    "by"        TEXT NOT NULL
);
