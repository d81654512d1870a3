-- A host whose A/AAAA records sit in several networks (round-robin across providers, IPv4 at
-- one and IPv6 at another) is served by each of them. case_routes keeps the route of the
-- network the routing follows (the statistics' hoster: a case counts once); each other network
-- (another origin AS) gets a row here with its own addresses, desk and recipients, and its
-- desk its own notice. Replaced whenever the case is resolved again.
CREATE TABLE case_address_routes (
    case_id           bigint  NOT NULL REFERENCES cases (id),
    position          integer NOT NULL CHECK (position >= 1),
    ip_addresses      inet[]  NOT NULL CHECK (cardinality(ip_addresses) >= 1),
    network           jsonb,
    hoster            text,
    asn               bigint CHECK (asn IS NULL OR asn BETWEEN 0 AND 4294967295),
    country           text CHECK (country IS NULL OR country ~ '^[A-Z]{2}$'),
    recipients        jsonb   NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(recipients) = 'array'),
    no_contact_reason text,
    PRIMARY KEY (case_id, position),
    CHECK (recipients <> '[]'::jsonb OR no_contact_reason IS NOT NULL)
);
