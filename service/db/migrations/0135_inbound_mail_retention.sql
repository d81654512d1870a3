-- Retention (issue 14 follow-up): a hoster's reply may quote the very URLs a purge removes
-- from a case, so its text, subject and attachment metadata are cleared with the case's URL.
-- What stays: that a mail came, when, from whom, its kind, ticket and the cases it concerns.
ALTER TABLE inbound_mail ADD COLUMN purged_at timestamptz;
