-- A cached RDAP network answers for an address only if that address is announced by the same
-- origin AS as the address it was looked up for. Registries answer with the most specific
-- network, but a cache holding only the parent allocation would otherwise answer for a
-- reseller's sub-allocation inside it (the reseller announced by its own AS) and route the
-- notice to the parent. Entries learned without an origin match any origin.
ALTER TABLE rdap_networks ADD COLUMN origin_asn bigint
    CHECK (origin_asn IS NULL OR origin_asn BETWEEN 0 AND 4294967295);
