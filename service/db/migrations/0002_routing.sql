-- The routing decision of each case: who can remove it, and how we know (provenance).
-- Written by the resolve stage, read by notify/escalate/statistics.
CREATE TABLE case_routes (
    case_id           bigint PRIMARY KEY REFERENCES cases (id),
    decided_at        timestamptz NOT NULL DEFAULT now(),
    ip_addresses      inet[]      NOT NULL DEFAULT '{}',
    network           jsonb,       -- {cidr, handle, name, country, asn, registry}
    hoster            text,        -- display name of the hosting organisation (statistics key)
    asn               bigint CHECK (asn IS NULL OR asn BETWEEN 0 AND 4294967295),
    country           text CHECK (country IS NULL OR country ~ '^[A-Z]{2}$'),
    cdn               jsonb,       -- {name, abuse, origin_known} when a CDN fronts the host
    registrar         jsonb,       -- {name, iana_id, abuse, confidence}
    hotline           jsonb,       -- {country, name, address, language, policy}
    -- Ranked recipients: [{address, role, source, confidence, language, rank}]
    recipients        jsonb       NOT NULL DEFAULT '[]'::jsonb
                                  CHECK (jsonb_typeof(recipients) = 'array'),
    no_contact_reason text,
    CONSTRAINT routes_contact_or_reason
        CHECK (recipients <> '[]'::jsonb OR no_contact_reason IS NOT NULL)
);
CREATE INDEX case_routes_hoster ON case_routes (hoster);
CREATE INDEX case_routes_asn ON case_routes (asn);
CREATE INDEX case_routes_country ON case_routes (country);
