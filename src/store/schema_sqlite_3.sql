-- crier journal, version 3: next-update promises and scheduled blasts.

-- When the next customer update is due, as this update promised (NULL: no promise, e.g.
-- once resolved).
ALTER TABLE updates ADD COLUMN next_update_at INTEGER;

-- Blasts to run later (`crier schedule`, and the follow-up a resolution schedules). A due
-- schedule becomes exactly one update: `update_id` is set in the transaction that adds it.
CREATE TABLE schedules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    kind        TEXT NOT NULL,
    slots       TEXT NOT NULL,
    channels    TEXT,              -- JSON list; NULL: every customer channel when due
    audience    TEXT,
    due_at      INTEGER NOT NULL,
    typed       TEXT NOT NULL,     -- the time as the operator (or crier.toml) wrote it
    state       TEXT NOT NULL,     -- pending, sending, sent, cancelled, failed
    origin      TEXT NOT NULL,     -- operator, resolution
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    update_id   INTEGER REFERENCES updates(id),
    error       TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (due_at) WHERE state IN ('pending', 'sending');
CREATE INDEX schedules_incident ON schedules (incident_id);
