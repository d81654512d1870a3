-- A mail without a Message-ID is still recognised when it is taken in again (the same bytes
-- read twice from the mailbox after a crash, an MTA's retry over LMTP): by the SHA-256 of the
-- whole mail, the one thing derived from its bytes that is kept.
ALTER TABLE inbound_mail ADD COLUMN fingerprint text CHECK (fingerprint ~ '^[0-9a-f]{64}$');
CREATE UNIQUE INDEX inbound_mail_fingerprint ON inbound_mail (fingerprint)
    WHERE fingerprint IS NOT NULL;
