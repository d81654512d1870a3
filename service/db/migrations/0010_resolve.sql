-- Resolution: the shared RDAP cache (per network, with TTL and shorter negative TTL), the
-- hotline-curated contact book, and partner hotlines with a routing policy per country.

-- One row per registry network (start..end, both host addresses of one family), shared by
-- every worker. `record` holds the parsed network and ranked contacts, never raw content.
-- A negative row (the registry has no record) covers the single address that was asked.
CREATE TABLE rdap_networks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    start_addr  inet        NOT NULL,
    end_addr    inet        NOT NULL,
    registry    text,
    handle      text,
    negative    boolean     NOT NULL DEFAULT false,
    record      jsonb,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CONSTRAINT rdap_networks_hosts CHECK (masklen(start_addr) = masklen(end_addr)
        AND family(start_addr) = family(end_addr) AND start_addr <= end_addr),
    CONSTRAINT rdap_networks_record CHECK (negative OR record IS NOT NULL),
    UNIQUE (start_addr, end_addr)
);
-- Lookup of an address: the nearest start at or below it, then containment.
CREATE INDEX rdap_networks_start ON rdap_networks (start_addr DESC, end_addr);

-- Registrar answers per registrable domain.
CREATE TABLE rdap_domains (
    domain      text PRIMARY KEY,
    negative    boolean     NOT NULL DEFAULT false,
    record      jsonb,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- The contact book: hotline-curated rules that win over lookups. Exactly one selector.
CREATE TABLE contact_rules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cidr            cidr,
    asn             bigint CHECK (asn IS NULL OR asn BETWEEN 0 AND 4294967295),
    domain          text CHECK (domain IS NULL OR domain = lower(domain)),
    hoster          text,
    address         text CHECK (address IS NULL OR address ~ '^[^@\s]+@[^@\s]+$'),
    language        text,
    do_not_contact  boolean     NOT NULL DEFAULT false,
    via_hotline     text CHECK (via_hotline IS NULL OR via_hotline ~ '^[A-Z]{2}$'),
    cc              text[]      NOT NULL DEFAULT '{}',
    note            text,
    created_by      text        NOT NULL DEFAULT 'cli',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT contact_rules_one_selector CHECK (num_nonnulls(cidr, asn, domain, hoster) = 1),
    CONSTRAINT contact_rules_effect CHECK (
        address IS NOT NULL OR do_not_contact OR via_hotline IS NOT NULL OR cardinality(cc) > 0)
);

-- Partner hotlines and how notices about content hosted in their country are routed.
CREATE TABLE hotlines (
    country     text PRIMARY KEY CHECK (country ~ '^[A-Z]{2}$'),
    name        text        NOT NULL,
    address     text CHECK (address IS NULL OR address ~ '^[^@\s]+@[^@\s]+$'),
    language    text,
    policy      text        NOT NULL DEFAULT 'direct'
                            CHECK (policy IN ('direct', 'hotline', 'both')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hotlines_reachable CHECK (policy = 'direct' OR address IS NOT NULL)
);
