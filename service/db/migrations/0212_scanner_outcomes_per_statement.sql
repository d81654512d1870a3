-- Scanner outcomes recorded once per statement instead of once per event (0140's semantics).
--
-- The per-row trigger ran a plpgsql function for every event: a rule lookup, then an INSERT of
-- one row. Every stage appends one event per case it moves, so that cost was paid per case on
-- every transition of the pipeline (~100 µs an event in EXPLAIN ANALYZE of a 1 000-case
-- transition_many). Now one INSERT … SELECT per statement over its transition table does the
-- same: the first rule by priority for each event (NULL kind/from_state/to_state match any;
-- a rule without an outcome means "no outcome"), the reason from detail->>reason_key, the
-- case's state after the event (its to_state, else the case's state once the statement is
-- done — what the row trigger read too, since AFTER row triggers also fire at its end).
--
-- Outcome ids follow event order (ORDER BY the event id), as they did when the row trigger
-- fired event by event: the scanner feed reads by (txid, id).
--
-- A statement's events have few distinct (kind, from_state, to_state) triples, so the rules
-- are looked up once per triple, not once per event. 'received' events are never an outcome:
-- intake's statements are skipped by the WHERE, though PostgreSQL still hands their rows to
-- the transition table (a statement-level trigger cannot filter by row beforehand).

CREATE FUNCTION scanner_outcomes_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH triples AS (
        SELECT DISTINCT kind, from_state::text AS from_state, to_state::text AS to_state
        FROM new_events WHERE kind <> 'received'
    ), ruled AS (
        SELECT t.kind, t.from_state, t.to_state, rule.outcome, rule.reason_key
        FROM triples t
        CROSS JOIN LATERAL (
            SELECT r.outcome, r.reason_key FROM scanner_outcome_rules r
            WHERE (r.kind IS NULL OR r.kind = t.kind)
              AND (r.from_state IS NULL OR r.from_state = t.from_state)
              AND (r.to_state IS NULL OR r.to_state = t.to_state)
            ORDER BY r.priority
            LIMIT 1
        ) rule
        WHERE rule.outcome IS NOT NULL
    )
    INSERT INTO scanner_outcomes (case_id, scanner_id, event_id, outcome, case_state, reason, at)
    SELECT c.id, c.scanner_id, e.id, ruled.outcome, coalesce(e.to_state, c.state)::text,
           CASE WHEN ruled.reason_key IS NOT NULL THEN e.detail ->> ruled.reason_key END,
           e.at
    FROM new_events e
    JOIN ruled ON ruled.kind = e.kind
              AND ruled.from_state IS NOT DISTINCT FROM e.from_state::text
              AND ruled.to_state IS NOT DISTINCT FROM e.to_state::text
    JOIN cases c ON c.id = e.case_id
    ORDER BY e.id;
    RETURN NULL;
END $$;

DROP TRIGGER scanner_outcome_record ON case_events;
DROP FUNCTION scanner_outcome_record();

CREATE TRIGGER scanner_outcomes_record AFTER INSERT ON case_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION scanner_outcomes_record();
