-- Replies and auto-replies that matched no notice (no VERP address, no known Message-ID, no
-- notice reference from the recipient's domain) were recorded and then shown nowhere. They now
-- wait on the analysts' "Unmatched mail" page until an analyst attaches one to a case
-- (matched_by 'analyst', who in attached_by) or dismisses it (reviewed_at/by, with a note).

ALTER TABLE inbound_mail DROP CONSTRAINT inbound_mail_matched_by_check;
ALTER TABLE inbound_mail ADD CONSTRAINT inbound_mail_matched_by_check
    CHECK (matched_by IN ('verp', 'message_id', 'subject', 'analyst'));
ALTER TABLE inbound_mail ADD COLUMN attached_by text CHECK (length(attached_by) <= 200);
ALTER TABLE inbound_mail ADD COLUMN review_note text CHECK (length(review_note) <= 500);

-- the page lists what is still waiting, newest first
CREATE INDEX inbound_mail_unmatched ON inbound_mail (id)
    WHERE matched_by IS NULL AND reviewed_at IS NULL AND kind IN ('reply', 'auto_reply');
