-- Intake hashes its 'received' events itself, set-based, in the statement that creates the
-- cases (see insert_reports in queries/cases.sql): a case's first event has no predecessor,
-- so nothing needs the per-row trigger. The trigger keeps every other event, and any
-- 'received' event that arrives without a hash. Whoever supplies a hash cannot forge history
-- with it: `takedown audit verify` recomputes every hash, and one 'received' event per case
-- is all the unique index case_events_one_received allows.
DROP TRIGGER case_events_chain ON case_events;
CREATE TRIGGER case_events_chain BEFORE INSERT ON case_events
    FOR EACH ROW
    WHEN (NEW.kind <> 'received' OR NEW.hash IS NULL OR NEW.prev_hash IS NOT NULL)
    EXECUTE FUNCTION case_events_chain();
