-- Mail that `takedown mail-in` failed to take in (issue 14 follow-up): counted per mail (by
-- the SHA-256 of its bytes, the same fingerprint inbound_mail keeps) so that one that keeps
-- failing is set aside after TAKEDOWN_MAIL_IN_MAX_ATTEMPTS instead of being retried forever:
-- moved to the IMAP quarantine folder, or refused for good over LMTP. Nothing of the mail's
-- content is kept: its Message-ID (to find it in the folder), the error's class, the times.
CREATE TABLE mail_in_failures (
    fingerprint      text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    channel          text NOT NULL CHECK (channel IN ('imap', 'lmtp')),
    message_id       text CHECK (length(message_id) <= 1000),
    attempts         integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    error            text NOT NULL CHECK (error ~ '^[A-Za-z0-9_.]{1,100}$'),
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    set_aside_at     timestamptz
);
CREATE INDEX mail_in_failures_set_aside ON mail_in_failures (set_aside_at DESC)
    WHERE set_aside_at IS NOT NULL;
