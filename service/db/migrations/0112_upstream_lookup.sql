-- The upstream provider's desk is looked up when a case's escalation ladder reaches its
-- upstream step, not during resolution (one more RDAP query per network on the hot path, for
-- a step only overdue cases reach). What came of the lookup for this route:
--   NULL                                          never asked
--   {"state": "requested", "requested_at": iso}   the ladder waits for the 'upstream' job
--   {"state": "found" | "none" | "failed", ...}   settled; the ladder's upstream step goes on
-- A found desk is also the route's last recipient (role "upstream").
ALTER TABLE case_routes ADD COLUMN upstream_lookup jsonb
    CHECK (upstream_lookup IS NULL OR upstream_lookup->>'state' IN ('requested', 'found', 'none', 'failed'));
