-- Partner hotlines, machine to machine (what INHOPE's ICCAM does between hotlines).
--
-- Country policy 'forward': a case hosted in that country is submitted to the partner's own
-- Takedown Tracker (its intake API, `url`, with a scanner token the partner issued us, `token`)
-- instead of being mailed; the partner's outcomes are mirrored from its outcome feed. `address`
-- stays optional: when the partner is unreachable for too long, the case falls back to our own
-- mail, routed as under 'direct'.
ALTER TABLE hotlines DROP CONSTRAINT hotlines_policy_check;
ALTER TABLE hotlines DROP CONSTRAINT hotlines_reachable;
ALTER TABLE hotlines
    ADD COLUMN url   text CHECK (url IS NULL OR (url ~ '^https?://' AND length(url) <= 2000)),
    ADD COLUMN token text CHECK (token IS NULL OR length(token) BETWEEN 1 AND 500),
    ADD CONSTRAINT hotlines_policy_check
        CHECK (policy IN ('direct', 'hotline', 'both', 'forward')),
    ADD CONSTRAINT hotlines_reachable
        CHECK (policy IN ('direct', 'forward') OR address IS NOT NULL),
    ADD CONSTRAINT hotlines_forward_target
        CHECK (policy <> 'forward' OR (url IS NOT NULL AND token IS NOT NULL));

-- One hand-over per case: pending until the partner's intake took it (then `partner_case_id`
-- is the partner's case), or given up after the fallback delay (then the case is mailed).
CREATE TABLE forwards (
    case_id          bigint      PRIMARY KEY REFERENCES cases (id),
    country          text        NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    url              text        NOT NULL,
    state            text        NOT NULL DEFAULT 'pending'
                                 CHECK (state IN ('pending', 'submitted', 'fallen_back')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    submitted_at     timestamptz,
    fallen_back_at   timestamptz,
    partner_case_id  bigint,
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error       text,
    CHECK (state <> 'submitted' OR (partner_case_id IS NOT NULL AND submitted_at IS NOT NULL))
);
CREATE UNIQUE INDEX forwards_partner_case ON forwards (country, partner_case_id)
    WHERE partner_case_id IS NOT NULL;

-- Where we are in each partner's outcome feed, and since when it has failed (fallback clock).
CREATE TABLE partner_feeds (
    country        text        PRIMARY KEY CHECK (country ~ '^[A-Z]{2}$'),
    cursor         text,
    last_polled_at timestamptz,
    failing_since  timestamptz,
    last_error     text
);

-- The partner stage: one long-lived job (ref_id 0) submits nothing itself; it polls the feeds
-- and re-schedules itself. Hand-overs are jobs of the same stage, one per case.
INSERT INTO jobs (kind, ref_id) VALUES ('partners', 0);

-- What our scanner learns from a partner's outcomes (service/domain/outcomes.py): the content
-- came back at the partner's (before the 'forwarded' rule: the case goes back to forwarded);
-- the partner's hoster acknowledged; it disputed (the fixed reason only). A removal at the
-- partner's is a transition to 'removed' (rule 120).
INSERT INTO scanner_outcome_rules (priority, outcome, kind, from_state, to_state, reason_key) VALUES
    (104, 'reappeared',   'partner_reappeared',   NULL, NULL, NULL),
    (111, 'acknowledged', 'partner_acknowledged', NULL, NULL, NULL),
    (141, 'disputed',     'partner_disputed',     NULL, NULL, 'dispute_reason');
