-- What a re-check saw instead of the content (docs/verdicts.md): the verdict alone cannot
-- tell a 404 from a login wall that may hide the file from the prober alone.
ALTER TABLE checks ADD COLUMN why text
    CHECK (why IS NULL OR why IN ('http_gone', 'dns_gone', 'placeholder', 'redirected_away',
                                  'login_wall', 'other_content'));

-- Placeholders are learned per host: the sha256 of bytes a host served in place of removed
-- content, once per case. When several cases of one host were answered with the same bytes,
-- those bytes are the host's "removed" placeholder. Only hashes of what was served instead of
-- the content are kept (a match with the content is never recorded here).
CREATE TABLE placeholder_sightings (
    host     text        NOT NULL,
    sha256   text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    case_id  bigint      NOT NULL REFERENCES cases (id),
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, sha256, case_id)
);

-- Removals by reason (statistics): the removal events alone, found without a scan.
CREATE INDEX case_events_removal ON case_events (case_id) WHERE kind = 'removal';
