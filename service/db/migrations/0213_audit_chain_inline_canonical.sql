-- The audit chain's per-event trigger (0040, 0042) with the canonical form spelt out inline.
--
-- Same bytes, same chain: `takedown audit verify` and case_event_canonical are unchanged. The
-- trigger called case_event_canonical(NEW), a SQL function PostgreSQL does not inline for a
-- row argument, and audit_field eight times through it: ~12 µs of the trigger's ~26 µs per
-- event (EXPLAIN ANALYZE of a 1 000-case transition_many, best of 11); spelt out with each
-- field converted to text once, ~4 µs. The NOT NULL columns (id, case_id, at, actor, kind,
-- detail) are never '~': were one NULL, the row would be refused by its NOT NULL constraint
-- anyway, after this trigger.
--
-- The rest stays as it was, because it is what keeps the chain a chain: the case row lock
-- before the previous hash is read (the lookup is a separate query, so its snapshot is taken
-- after the lock and sees any event a competing appender committed meanwhile; two appenders
-- never extend the same link), and that lookup is one backward probe of case_events_case
-- (case_id, id). The lock costs ~6 µs when the writer already holds it (PostgreSQL finds its
-- own lock and returns at once); telling "already held" apart would cost the same probe.

CREATE FUNCTION case_event_hash(prev_hash bytea, e case_events) RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    id_text     text := e.id::text;
    case_text   text := e.case_id::text;
    at_text     text := (extract(epoch FROM e.at) * 1000000)::bigint::text;
    from_text   text := e.from_state::text;
    to_text     text := e.to_state::text;
    detail_text text := e.detail::text;
BEGIN
    -- case_event_canonical's bytes: '<octets>:<text>' per field, '~' for NULL (0040).
    RETURN sha256(coalesce(prev_hash, ''::bytea) || convert_to(
        octet_length(id_text) || ':' || id_text
        || octet_length(case_text) || ':' || case_text
        || octet_length(at_text) || ':' || at_text
        || octet_length(e.actor) || ':' || e.actor
        || octet_length(e.kind) || ':' || e.kind
        || CASE WHEN from_text IS NULL THEN '~' ELSE octet_length(from_text) || ':' || from_text END
        || CASE WHEN to_text IS NULL THEN '~' ELSE octet_length(to_text) || ':' || to_text END
        || octet_length(detail_text) || ':' || detail_text,
        'UTF8'));
END $$;

CREATE OR REPLACE FUNCTION case_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'received' THEN
        NEW.id := nextval('case_events_id_seq');
        NEW.prev_hash := NULL;
        NEW.hash := case_event_hash(NULL, NEW);
        RETURN NEW;
    END IF;
    -- Serialise appends per case so that two transactions cannot both extend the same link.
    PERFORM 1 FROM cases WHERE id = NEW.case_id FOR UPDATE;
    NEW.id := nextval('case_events_id_seq');
    NEW.prev_hash := (SELECT hash FROM case_events
                      WHERE case_id = NEW.case_id ORDER BY id DESC LIMIT 1);
    NEW.hash := case_event_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END $$;
