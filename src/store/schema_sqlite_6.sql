-- crier journal, version 6: an update can be left to the workers (`crier blast
-- --enqueue-only`): every `crier worker` on the journal sends it.

ALTER TABLE updates ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
CREATE INDEX updates_queued ON updates (id) WHERE queued;
