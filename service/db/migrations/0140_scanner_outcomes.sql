-- What scanners learn about their cases: one row per outcome (notified, acknowledged, removed,
-- reappeared, disputed, withdrawn), recorded by a trigger on case_events so that no code path
-- that appends an event can forget it. The rules deciding which event is which outcome are
-- rows (scanner_outcome_rules), mirrored by service/domain/outcomes.py (a test checks that
-- both agree): a later migration that adds an event kind or a state adds its rule here.

CREATE TABLE scanner_outcome_rules (
    priority    integer PRIMARY KEY,
    outcome     text CHECK (outcome ~ '^[a-z_]+$'),  -- NULL: the event is no outcome
    kind        text,                                -- NULL matches any
    from_state  text,                                -- text, not case_state: a rule may
    to_state    text,                                -- name a state added in the same migration
    reason_key  text                                 -- detail field passed on as the reason
);

INSERT INTO scanner_outcome_rules (priority, outcome, kind, from_state, to_state, reason_key) VALUES
    (10,  'removed',      NULL, 'held',         'removed',      NULL),
    (20,  NULL,           NULL, 'held',         NULL,           NULL),
    (30,  NULL,           NULL, 'gone_pending', 'notified',     NULL),
    (31,  NULL,           NULL, 'gone_pending', 'acknowledged', NULL),
    (32,  NULL,           NULL, 'gone_pending', 'escalated',    NULL),
    (100, 'notified',     NULL, NULL,           'notified',     NULL),
    (110, 'acknowledged', NULL, NULL,           'acknowledged', NULL),
    (120, 'removed',      NULL, NULL,           'removed',      NULL),
    (130, 'reappeared',   NULL, NULL,           'reappeared',   NULL),
    (140, 'disputed',     'ack_dispute', NULL,  NULL,           'dispute_reason');

-- The feed's order is (txid, id), and a reader only sees rows whose transaction id is below
-- the oldest transaction still running (pg_snapshot_xmin). An id sequence alone would gap:
-- a transaction that took id 10 can commit after another that took id 11 was read, and a
-- cursor past 11 would never return 10. Every transaction that can still commit has an id
-- at or above that horizon, so what a reader sees below it is a prefix that never changes.
CREATE TABLE scanner_outcomes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    case_id     bigint      NOT NULL REFERENCES cases (id),
    scanner_id  bigint      NOT NULL REFERENCES tokens (id),
    event_id    bigint      NOT NULL,
    outcome     text        NOT NULL,
    case_state  text        NOT NULL,  -- the internal state after the event (mapped when read)
    reason      text,
    at          timestamptz NOT NULL
);
CREATE INDEX scanner_outcomes_feed ON scanner_outcomes (scanner_id, txid, id);
CREATE INDEX scanner_outcomes_case ON scanner_outcomes (case_id, id);

CREATE FUNCTION scanner_outcome_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rule scanner_outcome_rules;
BEGIN
    SELECT * INTO rule FROM scanner_outcome_rules r
    WHERE (r.kind IS NULL OR r.kind = NEW.kind)
      AND (r.from_state IS NULL OR r.from_state = NEW.from_state::text)
      AND (r.to_state IS NULL OR r.to_state = NEW.to_state::text)
    ORDER BY r.priority
    LIMIT 1;
    IF rule.outcome IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO scanner_outcomes (case_id, scanner_id, event_id, outcome, case_state, reason, at)
    SELECT c.id, c.scanner_id, NEW.id, rule.outcome, coalesce(NEW.to_state, c.state)::text,
           CASE WHEN rule.reason_key IS NOT NULL THEN NEW.detail ->> rule.reason_key END,
           NEW.at
    FROM cases c WHERE c.id = NEW.case_id;
    RETURN NULL;
END $$;

-- 'received' events (intake's hot path, set-based) are never an outcome: not even called.
CREATE TRIGGER scanner_outcome_record AFTER INSERT ON case_events
    FOR EACH ROW WHEN (NEW.kind <> 'received')
    EXECUTE FUNCTION scanner_outcome_record();
