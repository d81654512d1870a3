-- The hotline's mailbox (issue 14): every mail `takedown mail-in` took in, classified, with the
-- notice it answers and the cases it concerns. Never the mail itself: a reply can carry the
-- very material, so attachments are recorded as media type, size and SHA-256 only, and the
-- text is kept up to a cap (HTML reduced to text).

CREATE TABLE inbound_mail (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- the mail's own Message-ID: a mail taken in twice (a crash before it was moved out of
    -- the inbox, an MTA's retry of an LMTP delivery) is recorded once
    message_id   text CHECK (length(message_id) <= 1000),
    kind         text NOT NULL CHECK (kind IN ('bounce', 'auto_reply', 'reply')),
    notice_id    bigint REFERENCES notices (id),
    matched_by   text CHECK (matched_by IN ('verp', 'message_id', 'subject')),
    sender       text CHECK (length(sender) <= 1000),
    subject      text NOT NULL DEFAULT '' CHECK (length(subject) <= 1000),
    ticket       text CHECK (length(ticket) <= 100),
    body_text    text NOT NULL DEFAULT '',
    truncated    boolean NOT NULL DEFAULT false,
    -- [{"media_type": …, "size": …, "sha256": …}]: what is known of each attachment
    attachments  jsonb NOT NULL DEFAULT '[]'::jsonb,
    outcome      jsonb NOT NULL DEFAULT '{}'::jsonb,
    reviewed_at  timestamptz,
    reviewed_by  text
);
CREATE UNIQUE INDEX inbound_mail_message_id ON inbound_mail (message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX inbound_mail_kind ON inbound_mail (kind, received_at);

CREATE TABLE inbound_mail_cases (
    mail_id  bigint NOT NULL REFERENCES inbound_mail (id) ON DELETE CASCADE,
    case_id  bigint NOT NULL REFERENCES cases (id),
    PRIMARY KEY (mail_id, case_id)
);
-- the case page and the replies queue look up a case's mail
CREATE INDEX inbound_mail_cases_case ON inbound_mail_cases (case_id, mail_id);
