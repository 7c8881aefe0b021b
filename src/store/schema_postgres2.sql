-- crier journal, version 2 (PostgreSQL): many processes send one update.
--
-- A claim is a committed row (`state = 'claimed'`) held by one process (`holder`) until
-- `lease_until`, which that process's heartbeat pushes on; an `attempting` row keeps its
-- holder and lease until its outcome is recorded. Once the lease has run out, any process
-- recovers the row: claimed rows are due again, attempting ones are in doubt. Rows left
-- `attempting` by version 1 have no lease: they are recovered by the next process, as before.

ALTER TABLE deliveries ADD COLUMN holder TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT;
CREATE INDEX deliveries_held ON deliveries (update_id, channel, lease_until)
    WHERE state IN ('claimed', 'attempting');

-- One row per process sending an update.
ALTER TABLE runs DROP CONSTRAINT runs_pkey;
ALTER TABLE runs ADD PRIMARY KEY (update_id, pid, host);

-- An update left to the workers (`crier blast --enqueue-only`).
ALTER TABLE updates ADD COLUMN queued BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX updates_queued ON updates (id) WHERE queued;

-- A channel with a rate limit is sent by one process at a time, so its `per_second` and
-- `burst` hold across every worker: the owner holds it under a lease its heartbeat renews.
CREATE TABLE channel_owners (
    channel     TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
