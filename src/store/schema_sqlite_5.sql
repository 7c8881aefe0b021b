-- crier journal, version 5: the maintenance switch (`crier maintenance on|off`). One row
-- while it is on.

CREATE TABLE maintenance (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    incident_id TEXT,
    since       INTEGER NOT NULL,
    by          TEXT NOT NULL
);
