-- Copies of notices: the contact book's extra CCs and the hotline of a country whose policy is
-- "both" receive every notice of a route as Cc recipients of the same message (same
-- Message-ID, the acknowledgment link stays the main recipient's). `cc` is who a notice was
-- addressed to in copy; `cc_failed` which of them the mail server refused or bounced, and why.
-- A refused copy never fails the notice nor moves its items to another contact.
ALTER TABLE notices
    ADD COLUMN cc        text[] NOT NULL DEFAULT '{}',
    ADD COLUMN cc_failed jsonb  NOT NULL DEFAULT '{}'::jsonb;

-- Items gather per main recipient, kind and Cc set: a copy party only sees its own routes' URLs.
DROP INDEX notices_open_batch;
CREATE UNIQUE INDEX notices_open_batch ON notices (recipient, kind, cc) WHERE sealed_at IS NULL;
