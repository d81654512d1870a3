-- Scanners' webhook receivers and the deliveries of their outcomes.
-- A receiver keeps the feed position it has fanned out to (cursor_txid, cursor_id; see 0140):
-- the webhook stage reads the scanner's feed from there and turns each outcome into a
-- delivery row, so deliveries are made in feed order (their ids) under the receiver's lock.
CREATE TABLE webhooks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scanner_id   bigint      NOT NULL REFERENCES tokens (id),
    url          text        NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
    -- `whsec_` + base64: the receiver verifies with it, so it is kept to sign (shown once).
    secret       text        NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]+$'),
    cursor_txid  xid8        NOT NULL,
    cursor_id    bigint      NOT NULL,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz
);
CREATE INDEX webhooks_scanner ON webhooks (scanner_id) WHERE removed_at IS NULL;

CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       bigint      NOT NULL REFERENCES webhooks (id),
    outcome_id       bigint      NOT NULL REFERENCES scanner_outcomes (id),
    case_id          bigint      NOT NULL,
    -- pending: to send (in order per case); delivered: a 2xx came back; parked: retried for
    -- the whole retry period without success, waiting for an analyst (it holds back the
    -- later deliveries of its case, which would otherwise arrive out of order).
    state            text        NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'parked')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_at          timestamptz NOT NULL DEFAULT now(),
    first_failed_at  timestamptz,
    last_attempt_at  timestamptz,
    last_error       text,
    delivered_at     timestamptz,
    parked_at        timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, outcome_id)
);
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (webhook_id, case_id, id)
    WHERE state <> 'delivered';
CREATE INDEX webhook_deliveries_parked ON webhook_deliveries (parked_at) WHERE state = 'parked';
