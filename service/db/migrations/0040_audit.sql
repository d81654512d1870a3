-- Tamper-evident audit: every case event is chained to the previous event of the same case.
--
-- hash = sha256(prev_hash || canonical(event)), prev_hash = hash of the case's previous event
-- (NULL for its first). Changing, deleting or inserting a row in the middle of a case's
-- history breaks every later link, which `takedown audit verify` recomputes in Python.
--
-- canonical(event) is a length-prefixed concatenation, so no field can bleed into the next:
--   each field is '~' when NULL, else '<octets>:<utf-8 text>', in the order
--   id, case_id, at (microseconds since the Unix epoch), actor, kind, from_state, to_state,
--   detail::text (jsonb's normalised text form, independent of key order on input).
-- service/db/audit.py implements the same function; change both together.

ALTER TABLE case_events ADD COLUMN prev_hash bytea, ADD COLUMN hash bytea;

-- Event ids must follow chain order within a case. An identity default is drawn before the
-- BEFORE trigger runs, i.e. before the per-case lock, so two concurrent appends could get ids
-- in the opposite order of their links. The trigger draws the id itself, after the lock.
ALTER TABLE case_events ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE case_events_id_seq OWNED BY case_events.id;
SELECT setval('case_events_id_seq', coalesce((SELECT max(id) FROM case_events), 0) + 1, false);

CREATE FUNCTION audit_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN value IS NULL THEN '~' ELSE octet_length(value) || ':' || value END
$$;

CREATE FUNCTION case_event_canonical(e case_events) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT convert_to(
        audit_field(e.id::text)
        || audit_field(e.case_id::text)
        || audit_field((extract(epoch FROM e.at) * 1000000)::bigint::text)
        || audit_field(e.actor)
        || audit_field(e.kind)
        || audit_field(e.from_state::text)
        || audit_field(e.to_state::text)
        || audit_field(e.detail::text),
        'UTF8')
$$;

CREATE FUNCTION case_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Serialise appends per case so that two transactions cannot both extend the same link
    -- (a fork). The case row lock is the one transition() already takes; rows the current
    -- statement inserted into cases (bulk intake) are visible here and locked cheaply.
    PERFORM 1 FROM cases WHERE id = NEW.case_id FOR UPDATE;
    NEW.id := nextval('case_events_id_seq');
    NEW.prev_hash := (SELECT hash FROM case_events
                      WHERE case_id = NEW.case_id ORDER BY id DESC LIMIT 1);
    NEW.hash := sha256(coalesce(NEW.prev_hash, ''::bytea) || case_event_canonical(NEW));
    RETURN NEW;
END $$;

-- Backfill the existing history, oldest first per case (append-only trigger off meanwhile).
ALTER TABLE case_events DISABLE TRIGGER case_events_no_update;
DO $$
DECLARE
    e case_events;
    last_case bigint := NULL;
    last_hash bytea := NULL;
BEGIN
    FOR e IN SELECT * FROM case_events ORDER BY case_id, id LOOP
        IF last_case IS DISTINCT FROM e.case_id THEN
            last_hash := NULL;
            last_case := e.case_id;
        END IF;
        e.prev_hash := last_hash;
        last_hash := sha256(coalesce(last_hash, ''::bytea) || case_event_canonical(e));
        UPDATE case_events SET prev_hash = e.prev_hash, hash = last_hash WHERE id = e.id;
    END LOOP;
END $$;
ALTER TABLE case_events ENABLE TRIGGER case_events_no_update;

ALTER TABLE case_events ALTER COLUMN hash SET NOT NULL;
ALTER TABLE case_events ADD CONSTRAINT case_events_hash_length
    CHECK (octet_length(hash) = 32 AND (prev_hash IS NULL OR octet_length(prev_hash) = 32));

CREATE TRIGGER case_events_chain BEFORE INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_chain();
