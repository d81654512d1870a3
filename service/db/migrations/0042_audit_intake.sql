-- Intake writes thousands of 'received' events per statement. A 'received' event is, by
-- construction, the first event of the case it belongs to (it is inserted in the same
-- statement that creates the case), so it has no predecessor to look up and nothing to
-- serialise against: skip the row lock and the previous-hash lookup for it.
-- A forged later 'received' event would still be caught: its NULL prev_hash breaks the
-- chain in `takedown audit verify`, and the unique index below refuses a second one.
CREATE UNIQUE INDEX case_events_one_received ON case_events (case_id) WHERE kind = 'received';

CREATE OR REPLACE FUNCTION case_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'received' THEN
        NEW.id := nextval('case_events_id_seq');
        NEW.prev_hash := NULL;
        NEW.hash := sha256(case_event_canonical(NEW));
        RETURN NEW;
    END IF;
    -- Serialise appends per case so that two transactions cannot both extend the same link.
    PERFORM 1 FROM cases WHERE id = NEW.case_id FOR UPDATE;
    NEW.id := nextval('case_events_id_seq');
    NEW.prev_hash := (SELECT hash FROM case_events
                      WHERE case_id = NEW.case_id ORDER BY id DESC LIMIT 1);
    NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || case_event_canonical(NEW));
    RETURN NEW;
END $$;
