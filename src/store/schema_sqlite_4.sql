-- crier journal, version 4: nudges to the people on duty, and the holding update.

-- One row per nudge and internal channel ('-' when there is none: the worker's log only), so
-- each is sent once however many workers run and however often they poll.
CREATE TABLE nudges (
    about      TEXT NOT NULL,      -- promise:UPDATE:soon, promise:UPDATE:missed, schedule:ID:failed
    channel    TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    state      TEXT NOT NULL,      -- sending, sent, failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (about, channel)
);

-- The holding update of a missed promise is a schedule made once per promise.
CREATE UNIQUE INDEX schedules_holding ON schedules (incident_id, typed) WHERE origin = 'holding';
