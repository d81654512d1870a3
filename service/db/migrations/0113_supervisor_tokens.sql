-- A supervisor token is a hotline token that may also place and lift law-enforcement holds,
-- as only supervisors may on the /oversight/ pages; a plain hotline token may not.
ALTER TYPE token_role ADD VALUE IF NOT EXISTS 'supervisor';
