-- crier journal, version 2: indexes that a send does not have to move.
--
-- Version 1 indexed (update_id, channel, state, next_attempt_at), so each of a send's three
-- state changes (claimed, attempting, sent) moved an index entry. Now only rows waiting to be
-- sent are in the due index, rows being sent in a small one (found again after a crash), and
-- every row once in an index that never changes (counts, failures, retries).

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (update_id, channel, next_attempt_at)
    WHERE state IN ('pending', 'retry');
CREATE INDEX deliveries_active ON deliveries (update_id, channel)
    WHERE state IN ('claimed', 'attempting');
CREATE INDEX deliveries_update ON deliveries (update_id, channel);
