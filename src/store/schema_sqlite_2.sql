-- crier journal, version 2: indexes that a send does not have to move.
--
-- Version 1 indexed (update_id, channel, state, next_attempt_at), so each of a send's three
-- state changes (claimed, attempting, sent) moved an index entry. Now only rows waiting to be
-- sent are in the due index, and every row is once in an index that never changes (counts,
-- failures, and finding the rows a crash left behind, once per run).

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (update_id, channel, next_attempt_at)
    WHERE state IN ('pending', 'retry');
CREATE INDEX deliveries_update ON deliveries (update_id, channel);
