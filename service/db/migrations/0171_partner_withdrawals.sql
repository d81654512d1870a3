-- A case we handed to a partner hotline's instance (policy 'forward') and then withdrew — a
-- hash withdrawn, a dispute confirmed, the scanner taking its report back — is withdrawn at the
-- partner too (POST {url}/api/v1/cases/{partner_case_id}/withdraw, as its scanner): when the
-- partner took that in, and what it answered when it refused.
ALTER TABLE forwards ADD COLUMN withdrawn_at timestamptz;
ALTER TABLE forwards ADD COLUMN withdrawal_error text CHECK (length(withdrawal_error) <= 500);
