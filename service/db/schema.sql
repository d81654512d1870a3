-- The schema that migrating from empty gives (service/db/migrations), read back from the
-- catalog. Generated: do not edit. Regenerate after adding a migration with
--     python -m service.db.schema > service/db/schema.sql

CREATE TYPE analyst_role AS ENUM (
    'analyst',
    'supervisor'
);

CREATE TYPE case_state AS ENUM (
    'received',
    'resolving',
    'resolved',
    'unresolved',
    'held',
    'notified',
    'acknowledged',
    'escalated',
    'gone_pending',
    'removed',
    'reappeared',
    'withdrawn',
    'forwarded'
);

CREATE TYPE notice_kind AS ENUM (
    'notice',
    'reminder',
    'escalation',
    'withdrawal'
);

CREATE TYPE notice_state AS ENUM (
    'pending',
    'sending',
    'sent',
    'failed',
    'cancelled'
);

CREATE TYPE probe_verdict AS ENUM (
    'present',
    'gone',
    'inconclusive'
);

CREATE TYPE token_role AS ENUM (
    'scanner',
    'hotline',
    'probe',
    'supervisor'
);

CREATE TYPE stats_case AS (
    sign integer,
    case_id bigint,
    hoster text,
    asn bigint,
    country text,
    first_notice_at timestamp with time zone,
    detected_at timestamp with time zone,
    first_gone_at timestamp with time zone,
    removed_at timestamp with time zone,
    reappeared_at timestamp with time zone,
    withdrawn boolean
);

CREATE TABLE ack_answers (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    notice_id bigint NOT NULL,
    case_id bigint NOT NULL,
    answer text NOT NULL,
    note text DEFAULT ''::text NOT NULL,
    answered_at timestamp with time zone DEFAULT now() NOT NULL,
    reviewed_at timestamp with time zone,
    responsible text DEFAULT ''::text NOT NULL,
    dispute_reason text,
    CONSTRAINT ack_answers_notice_id_case_id_answer_key UNIQUE (notice_id, case_id, answer),
    CONSTRAINT ack_answers_pkey PRIMARY KEY (id),
    CONSTRAINT ack_answers_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT ack_answers_notice_id_fkey FOREIGN KEY (notice_id) REFERENCES notices(id),
    CONSTRAINT ack_answers_answer_check CHECK ((answer = ANY (ARRAY['received'::text, 'removed'::text, 'not_ours'::text, 'dispute'::text]))),
    CONSTRAINT ack_answers_dispute_reason_check CHECK ((dispute_reason = ANY (ARRAY['lawful_content'::text, 'wrong_match'::text]))),
    CONSTRAINT ack_answers_note_check CHECK ((length(note) <= 4000)),
    CONSTRAINT ack_answers_responsible_check CHECK ((length(responsible) <= 500))
);

CREATE TABLE ack_tokens (
    sha256 bytea NOT NULL,
    notice_id bigint NOT NULL,
    csrf_secret bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    answers integer DEFAULT 0 NOT NULL,
    CONSTRAINT ack_tokens_pkey PRIMARY KEY (sha256),
    CONSTRAINT ack_tokens_notice_id_fkey FOREIGN KEY (notice_id) REFERENCES notices(id),
    CONSTRAINT ack_tokens_check CHECK ((expires_at > created_at)),
    CONSTRAINT ack_tokens_csrf_secret_check CHECK ((octet_length(csrf_secret) = 32)),
    CONSTRAINT ack_tokens_sha256_check CHECK ((octet_length(sha256) = 32))
);

CREATE TABLE analyst_recovery_codes (
    analyst_id bigint NOT NULL,
    code_sha256 bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT analyst_recovery_codes_pkey PRIMARY KEY (analyst_id, code_sha256),
    CONSTRAINT analyst_recovery_codes_analyst_id_fkey FOREIGN KEY (analyst_id) REFERENCES analysts(id),
    CONSTRAINT analyst_recovery_codes_code_sha256_check CHECK ((octet_length(code_sha256) = 32))
);

CREATE TABLE analyst_sessions (
    token_sha256 bytea NOT NULL,
    analyst_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    ended_at timestamp with time zone,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_reason text,
    CONSTRAINT analyst_sessions_pkey PRIMARY KEY (token_sha256),
    CONSTRAINT analyst_sessions_analyst_id_fkey FOREIGN KEY (analyst_id) REFERENCES analysts(id),
    CONSTRAINT analyst_sessions_check CHECK ((expires_at > created_at)),
    CONSTRAINT analyst_sessions_token_sha256_check CHECK ((octet_length(token_sha256) = 32))
);

CREATE TABLE analysts (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    username text NOT NULL,
    password_hash text NOT NULL,
    role analyst_role DEFAULT 'analyst'::analyst_role NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    disabled_at timestamp with time zone,
    totp_secret text,
    totp_enrolled_at timestamp with time zone,
    totp_last_step bigint,
    password_changed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT analysts_username_key UNIQUE (username),
    CONSTRAINT analysts_pkey PRIMARY KEY (id),
    CONSTRAINT analysts_password_hash_check CHECK (((password_hash ~~ 'scrypt$%'::text) OR (password_hash ~~ '$argon2id$%'::text))),
    CONSTRAINT analysts_totp_enrolled_has_secret CHECK (((totp_enrolled_at IS NULL) OR (totp_secret IS NOT NULL))),
    CONSTRAINT analysts_totp_secret_check CHECK ((totp_secret ~ '^[A-Z2-7]{32}$'::text)),
    CONSTRAINT analysts_username_check CHECK ((username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'::text))
);

CREATE TABLE case_address_routes (
    case_id bigint NOT NULL,
    position integer NOT NULL,
    ip_addresses inet[] NOT NULL,
    network jsonb,
    hoster text,
    asn bigint,
    country text,
    recipients jsonb DEFAULT '[]'::jsonb NOT NULL,
    no_contact_reason text,
    CONSTRAINT case_address_routes_pkey PRIMARY KEY (case_id, "position"),
    CONSTRAINT case_address_routes_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT case_address_routes_asn_check CHECK (((asn IS NULL) OR ((asn >= 0) AND (asn <= '4294967295'::bigint)))),
    CONSTRAINT case_address_routes_check CHECK (((recipients <> '[]'::jsonb) OR (no_contact_reason IS NOT NULL))),
    CONSTRAINT case_address_routes_country_check CHECK (((country IS NULL) OR (country ~ '^[A-Z]{2}$'::text))),
    CONSTRAINT case_address_routes_ip_addresses_check CHECK ((cardinality(ip_addresses) >= 1)),
    CONSTRAINT case_address_routes_position_check CHECK (("position" >= 1)),
    CONSTRAINT case_address_routes_recipients_check CHECK ((jsonb_typeof(recipients) = 'array'::text))
);

CREATE TABLE case_events (
    id bigint NOT NULL,
    case_id bigint NOT NULL,
    at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    actor text NOT NULL,
    kind text NOT NULL,
    from_state case_state,
    to_state case_state,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    prev_hash bytea,
    hash bytea NOT NULL,
    CONSTRAINT case_events_pkey PRIMARY KEY (id),
    CONSTRAINT case_events_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT case_events_check CHECK ((((from_state IS NULL) = (to_state IS NULL)) OR (kind = 'received'::text))),
    CONSTRAINT case_events_hash_length CHECK (((octet_length(hash) = 32) AND ((prev_hash IS NULL) OR (octet_length(prev_hash) = 32))))
);

CREATE TABLE case_routes (
    case_id bigint NOT NULL,
    decided_at timestamp with time zone DEFAULT now() NOT NULL,
    ip_addresses inet[] DEFAULT '{}'::inet[] NOT NULL,
    network jsonb,
    hoster text,
    asn bigint,
    country text,
    cdn jsonb,
    registrar jsonb,
    hotline jsonb,
    recipients jsonb DEFAULT '[]'::jsonb NOT NULL,
    no_contact_reason text,
    upstream_lookup jsonb,
    CONSTRAINT case_routes_pkey PRIMARY KEY (case_id),
    CONSTRAINT case_routes_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT case_routes_asn_check CHECK (((asn IS NULL) OR ((asn >= 0) AND (asn <= '4294967295'::bigint)))),
    CONSTRAINT case_routes_country_check CHECK (((country IS NULL) OR (country ~ '^[A-Z]{2}$'::text))),
    CONSTRAINT case_routes_recipients_check CHECK ((jsonb_typeof(recipients) = 'array'::text)),
    CONSTRAINT case_routes_upstream_lookup_check CHECK (((upstream_lookup IS NULL) OR ((upstream_lookup ->> 'state'::text) = ANY (ARRAY['requested'::text, 'found'::text, 'none'::text, 'failed'::text])))),
    CONSTRAINT routes_contact_or_reason CHECK (((recipients <> '[]'::jsonb) OR (no_contact_reason IS NOT NULL)))
);

CREATE TABLE cases (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    url text NOT NULL,
    url_original text NOT NULL,
    host text NOT NULL,
    sha256 text,
    sha1 text,
    md5 text,
    pdq text,
    media_type text NOT NULL,
    classification text,
    scanner_id bigint NOT NULL,
    source_ref text NOT NULL,
    state case_state DEFAULT 'received'::case_state NOT NULL,
    detected_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    first_notice_at timestamp with time zone,
    acknowledged_at timestamp with time zone,
    first_gone_at timestamp with time zone,
    removed_at timestamp with time zone,
    reappeared_at timestamp with time zone,
    last_seen_at timestamp with time zone,
    last_checked_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    withdrawn_at timestamp with time zone,
    CONSTRAINT cases_pkey PRIMARY KEY (id),
    CONSTRAINT cases_scanner_id_fkey FOREIGN KEY (scanner_id) REFERENCES tokens(id),
    CONSTRAINT cases_detected_before_received CHECK ((detected_at <= (received_at + '1 day'::interval))),
    CONSTRAINT cases_has_hash CHECK ((num_nonnulls(sha256, sha1, md5, pdq) >= 1)),
    CONSTRAINT cases_md5_check CHECK ((md5 ~ '^[0-9a-f]{32}$'::text)),
    CONSTRAINT cases_pdq_check CHECK ((pdq ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT cases_removed_after_gone CHECK (((removed_at IS NULL) OR (removed_at >= first_gone_at))),
    CONSTRAINT cases_removed_needs_gone CHECK (((removed_at IS NULL) OR (first_gone_at IS NOT NULL))),
    CONSTRAINT cases_resolved_after_received CHECK (((resolved_at IS NULL) OR (resolved_at >= received_at))),
    CONSTRAINT cases_sha1_check CHECK ((sha1 ~ '^[0-9a-f]{40}$'::text)),
    CONSTRAINT cases_sha256_check CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT cases_state_notified CHECK (((state <> ALL (ARRAY['notified'::case_state, 'acknowledged'::case_state, 'escalated'::case_state])) OR (first_notice_at IS NOT NULL))),
    CONSTRAINT cases_state_removed CHECK (((state <> 'removed'::case_state) OR (removed_at IS NOT NULL))),
    CONSTRAINT cases_url_check CHECK (((url ~ '^https?://'::text) AND (length(url) <= 8192))),
    CONSTRAINT cases_url_original_check CHECK ((length(url_original) <= 8192))
);

CREATE TABLE cdn_reports (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    case_id bigint NOT NULL,
    channel text NOT NULL,
    report_id text NOT NULL,
    filed_at timestamp with time zone DEFAULT now() NOT NULL,
    read_at timestamp with time zone,
    status text,
    external_host_notified boolean,
    origin_host jsonb,
    CONSTRAINT cdn_reports_channel_report_id_case_id_key UNIQUE (channel, report_id, case_id),
    CONSTRAINT cdn_reports_pkey PRIMARY KEY (id),
    CONSTRAINT cdn_reports_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT cdn_reports_report_id_check CHECK (((length(report_id) >= 1) AND (length(report_id) <= 100)))
);

CREATE TABLE checks (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    case_id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    verdict probe_verdict NOT NULL,
    reason text NOT NULL,
    status integer,
    matched text,
    pdq_distance integer,
    hops integer DEFAULT 0 NOT NULL,
    profile text DEFAULT 'own'::text NOT NULL,
    total_ms real,
    first_byte_ms real,
    state_before case_state NOT NULL,
    state_after case_state NOT NULL,
    why text,
    CONSTRAINT checks_pkey PRIMARY KEY (id),
    CONSTRAINT checks_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT checks_hops_check CHECK ((hops >= 0)),
    CONSTRAINT checks_matched_check CHECK (((matched IS NULL) OR (matched = ANY (ARRAY['sha256'::text, 'sha1'::text, 'md5'::text, 'pdq'::text])))),
    CONSTRAINT checks_pdq_distance_check CHECK (((pdq_distance IS NULL) OR ((pdq_distance >= 0) AND (pdq_distance <= 256)))),
    CONSTRAINT checks_reason_check CHECK ((length(reason) <= 300)),
    CONSTRAINT checks_status_check CHECK (((status IS NULL) OR ((status >= 100) AND (status <= 999)))),
    CONSTRAINT checks_why_check CHECK (((why IS NULL) OR (why = ANY (ARRAY['http_gone'::text, 'dns_gone'::text, 'placeholder'::text, 'redirected_away'::text, 'login_wall'::text, 'other_content'::text]))))
);

CREATE TABLE contact_health (
    address text NOT NULL,
    delivered integer DEFAULT 0 NOT NULL,
    bounced integer DEFAULT 0 NOT NULL,
    acknowledged integer DEFAULT 0 NOT NULL,
    failing boolean DEFAULT false NOT NULL,
    failing_since timestamp with time zone,
    last_error text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contact_health_pkey PRIMARY KEY (address)
);

CREATE TABLE contact_rules (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    cidr cidr,
    asn bigint,
    domain text,
    hoster text,
    address text,
    language text,
    do_not_contact boolean DEFAULT false NOT NULL,
    via_hotline text,
    cc text[] DEFAULT '{}'::text[] NOT NULL,
    note text,
    created_by text DEFAULT 'cli'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contact_rules_pkey PRIMARY KEY (id),
    CONSTRAINT contact_rules_address_check CHECK (((address IS NULL) OR (address ~ '^[^@\s]+@[^@\s]+$'::text))),
    CONSTRAINT contact_rules_asn_check CHECK (((asn IS NULL) OR ((asn >= 0) AND (asn <= '4294967295'::bigint)))),
    CONSTRAINT contact_rules_domain_check CHECK (((domain IS NULL) OR (domain = lower(domain)))),
    CONSTRAINT contact_rules_effect CHECK (((address IS NOT NULL) OR do_not_contact OR (via_hotline IS NOT NULL) OR (cardinality(cc) > 0))),
    CONSTRAINT contact_rules_one_selector CHECK ((num_nonnulls(cidr, asn, domain, hoster) = 1)),
    CONSTRAINT contact_rules_via_hotline_check CHECK (((via_hotline IS NULL) OR (via_hotline ~ '^[A-Z]{2}$'::text)))
);

CREATE TABLE escalations (
    case_id bigint NOT NULL,
    next_step integer DEFAULT 0 NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    triggered boolean DEFAULT false NOT NULL,
    next_step_at timestamp with time zone,
    last_reminder_at timestamp with time zone,
    wake_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT escalations_pkey PRIMARY KEY (case_id),
    CONSTRAINT escalations_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT escalations_next_step_check CHECK ((next_step >= 0))
);

CREATE TABLE forwards (
    case_id bigint NOT NULL,
    country text NOT NULL,
    url text NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    submitted_at timestamp with time zone,
    fallen_back_at timestamp with time zone,
    partner_case_id bigint,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    withdrawn_at timestamp with time zone,
    withdrawal_error text,
    CONSTRAINT forwards_pkey PRIMARY KEY (case_id),
    CONSTRAINT forwards_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT forwards_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT forwards_check CHECK (((state <> 'submitted'::text) OR ((partner_case_id IS NOT NULL) AND (submitted_at IS NOT NULL)))),
    CONSTRAINT forwards_country_check CHECK ((country ~ '^[A-Z]{2}$'::text)),
    CONSTRAINT forwards_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'submitted'::text, 'fallen_back'::text]))),
    CONSTRAINT forwards_withdrawal_error_check CHECK ((length(withdrawal_error) <= 500))
);

CREATE TABLE handoffs (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    case_id bigint NOT NULL,
    step text NOT NULL,
    recipient text,
    detail jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT handoffs_pkey PRIMARY KEY (id),
    CONSTRAINT handoffs_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id)
);

CREATE TABLE holds (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    case_id bigint,
    hoster text,
    domain text,
    reason text NOT NULL,
    created_by text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    lifted_by text,
    lifted_at timestamp with time zone,
    CONSTRAINT holds_pkey PRIMARY KEY (id),
    CONSTRAINT holds_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT holds_domain_check CHECK (((domain IS NULL) OR (domain ~ '^[a-z0-9.-]+$'::text))),
    CONSTRAINT holds_hoster_check CHECK (((hoster IS NULL) OR ((length(hoster) >= 1) AND (length(hoster) <= 300)))),
    CONSTRAINT holds_lifted CHECK (((lifted_at IS NULL) = (lifted_by IS NULL))),
    CONSTRAINT holds_one_scope CHECK ((num_nonnulls(case_id, hoster, domain) = 1)),
    CONSTRAINT holds_reason_check CHECK (((length(reason) >= 1) AND (length(reason) <= 2000)))
);

CREATE TABLE hoster_recidivism (
    hoster text NOT NULL,
    reappearances integer DEFAULT 0 NOT NULL,
    last_reappeared_at timestamp with time zone,
    CONSTRAINT hoster_recidivism_pkey PRIMARY KEY (hoster),
    CONSTRAINT hoster_recidivism_reappearances_check CHECK ((reappearances >= 0))
);

CREATE TABLE hotlines (
    country text NOT NULL,
    name text NOT NULL,
    address text,
    language text,
    policy text DEFAULT 'direct'::text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    url text,
    token text,
    CONSTRAINT hotlines_pkey PRIMARY KEY (country),
    CONSTRAINT hotlines_address_check CHECK (((address IS NULL) OR (address ~ '^[^@\s]+@[^@\s]+$'::text))),
    CONSTRAINT hotlines_country_check CHECK ((country ~ '^[A-Z]{2}$'::text)),
    CONSTRAINT hotlines_forward_target CHECK (((policy <> 'forward'::text) OR ((url IS NOT NULL) AND (token IS NOT NULL)))),
    CONSTRAINT hotlines_policy_check CHECK ((policy = ANY (ARRAY['direct'::text, 'hotline'::text, 'both'::text, 'forward'::text]))),
    CONSTRAINT hotlines_reachable CHECK (((policy = ANY (ARRAY['direct'::text, 'forward'::text])) OR (address IS NOT NULL))),
    CONSTRAINT hotlines_token_check CHECK (((token IS NULL) OR ((length(token) >= 1) AND (length(token) <= 500)))),
    CONSTRAINT hotlines_url_check CHECK (((url IS NULL) OR ((url ~ '^https?://'::text) AND (length(url) <= 2000))))
);

CREATE TABLE inbound_mail (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    message_id text,
    kind text NOT NULL,
    notice_id bigint,
    matched_by text,
    sender text,
    subject text DEFAULT ''::text NOT NULL,
    ticket text,
    body_text text DEFAULT ''::text NOT NULL,
    truncated boolean DEFAULT false NOT NULL,
    attachments jsonb DEFAULT '[]'::jsonb NOT NULL,
    outcome jsonb DEFAULT '{}'::jsonb NOT NULL,
    reviewed_at timestamp with time zone,
    reviewed_by text,
    fingerprint text,
    purged_at timestamp with time zone,
    attached_by text,
    review_note text,
    CONSTRAINT inbound_mail_pkey PRIMARY KEY (id),
    CONSTRAINT inbound_mail_notice_id_fkey FOREIGN KEY (notice_id) REFERENCES notices(id),
    CONSTRAINT inbound_mail_attached_by_check CHECK ((length(attached_by) <= 200)),
    CONSTRAINT inbound_mail_fingerprint_check CHECK ((fingerprint ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT inbound_mail_kind_check CHECK ((kind = ANY (ARRAY['bounce'::text, 'auto_reply'::text, 'reply'::text]))),
    CONSTRAINT inbound_mail_matched_by_check CHECK ((matched_by = ANY (ARRAY['verp'::text, 'message_id'::text, 'subject'::text, 'analyst'::text]))),
    CONSTRAINT inbound_mail_message_id_check CHECK ((length(message_id) <= 1000)),
    CONSTRAINT inbound_mail_review_note_check CHECK ((length(review_note) <= 500)),
    CONSTRAINT inbound_mail_sender_check CHECK ((length(sender) <= 1000)),
    CONSTRAINT inbound_mail_subject_check CHECK ((length(subject) <= 1000)),
    CONSTRAINT inbound_mail_ticket_check CHECK ((length(ticket) <= 100))
);

CREATE TABLE inbound_mail_cases (
    mail_id bigint NOT NULL,
    case_id bigint NOT NULL,
    CONSTRAINT inbound_mail_cases_pkey PRIMARY KEY (mail_id, case_id),
    CONSTRAINT inbound_mail_cases_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT inbound_mail_cases_mail_id_fkey FOREIGN KEY (mail_id) REFERENCES inbound_mail(id) ON DELETE CASCADE
);

CREATE TABLE jobs (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    kind text NOT NULL,
    case_id bigint,
    ref_id bigint,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    claim_id bigint,
    claimed_by text,
    requeue_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT jobs_pkey PRIMARY KEY (id),
    CONSTRAINT jobs_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT jobs_attempts_check CHECK ((attempts >= 0))
);

CREATE TABLE mail_in_failures (
    fingerprint text NOT NULL,
    channel text NOT NULL,
    message_id text,
    attempts integer DEFAULT 1 NOT NULL,
    error text NOT NULL,
    first_failed_at timestamp with time zone DEFAULT now() NOT NULL,
    last_failed_at timestamp with time zone DEFAULT now() NOT NULL,
    set_aside_at timestamp with time zone,
    CONSTRAINT mail_in_failures_pkey PRIMARY KEY (fingerprint),
    CONSTRAINT mail_in_failures_attempts_check CHECK ((attempts >= 1)),
    CONSTRAINT mail_in_failures_channel_check CHECK ((channel = ANY (ARRAY['imap'::text, 'lmtp'::text]))),
    CONSTRAINT mail_in_failures_error_check CHECK ((error ~ '^[A-Za-z0-9_.]{1,100}$'::text)),
    CONSTRAINT mail_in_failures_fingerprint_check CHECK ((fingerprint ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT mail_in_failures_message_id_check CHECK ((length(message_id) <= 1000))
);

CREATE TABLE notice_items (
    notice_id bigint NOT NULL,
    case_id bigint NOT NULL,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT notice_items_pkey PRIMARY KEY (notice_id, case_id),
    CONSTRAINT notice_items_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT notice_items_notice_id_fkey FOREIGN KEY (notice_id) REFERENCES notices(id)
);

CREATE TABLE notices (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    recipient text NOT NULL,
    role text DEFAULT 'abuse'::text NOT NULL,
    language text NOT NULL,
    country text,
    kind notice_kind DEFAULT 'notice'::notice_kind NOT NULL,
    message_id text NOT NULL,
    state notice_state DEFAULT 'pending'::notice_state NOT NULL,
    sealed_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    deadline_at timestamp with time zone,
    sent_at timestamp with time zone,
    bounced_at timestamp with time zone,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    cc text[] DEFAULT '{}'::text[] NOT NULL,
    cc_failed jsonb DEFAULT '{}'::jsonb NOT NULL,
    due_at timestamp with time zone,
    CONSTRAINT notices_message_id_key UNIQUE (message_id),
    CONSTRAINT notices_pkey PRIMARY KEY (id),
    CONSTRAINT notices_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT notices_check CHECK (((state <> 'sent'::notice_state) OR (sent_at IS NOT NULL))),
    CONSTRAINT notices_check1 CHECK (((state = 'pending'::notice_state) OR (sealed_at IS NOT NULL))),
    CONSTRAINT notices_country_check CHECK (((country IS NULL) OR (country ~ '^[A-Z]{2}$'::text))),
    CONSTRAINT notices_language_check CHECK ((language ~ '^[a-z]{2}$'::text)),
    CONSTRAINT notices_recipient_check CHECK ((length(recipient) <= 320))
);

CREATE TABLE partner_feeds (
    country text NOT NULL,
    cursor text,
    last_polled_at timestamp with time zone,
    failing_since timestamp with time zone,
    last_error text,
    CONSTRAINT partner_feeds_pkey PRIMARY KEY (country),
    CONSTRAINT partner_feeds_country_check CHECK ((country ~ '^[A-Z]{2}$'::text))
);

CREATE TABLE placeholder_sightings (
    host text NOT NULL,
    sha256 text NOT NULL,
    case_id bigint NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT placeholder_sightings_pkey PRIMARY KEY (host, sha256, case_id),
    CONSTRAINT placeholder_sightings_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT placeholder_sightings_sha256_check CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text))
);

CREATE TABLE probe_tracking (
    case_id bigint NOT NULL,
    streak_started_at timestamp with time zone,
    streak_last_gone timestamp with time zone,
    streak_count integer DEFAULT 0 NOT NULL,
    resume_state case_state,
    cycle_started_at timestamp with time zone,
    last_removed_at timestamp with time zone,
    CONSTRAINT probe_tracking_pkey PRIMARY KEY (case_id),
    CONSTRAINT probe_tracking_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT probe_tracking_check CHECK (((streak_count = 0) = (streak_started_at IS NULL))),
    CONSTRAINT probe_tracking_streak_count_check CHECK ((streak_count >= 0))
);

CREATE TABLE rdap_domains (
    domain text NOT NULL,
    negative boolean DEFAULT false NOT NULL,
    record jsonb,
    fetched_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT rdap_domains_pkey PRIMARY KEY (domain)
);

CREATE TABLE rdap_networks (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    start_addr inet NOT NULL,
    end_addr inet NOT NULL,
    registry text,
    handle text,
    negative boolean DEFAULT false NOT NULL,
    record jsonb,
    fetched_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    origin_asn bigint,
    CONSTRAINT rdap_networks_start_addr_end_addr_key UNIQUE (start_addr, end_addr),
    CONSTRAINT rdap_networks_pkey PRIMARY KEY (id),
    CONSTRAINT rdap_networks_hosts CHECK (((masklen(start_addr) = masklen(end_addr)) AND (family(start_addr) = family(end_addr)) AND (start_addr <= end_addr))),
    CONSTRAINT rdap_networks_origin_asn_check CHECK (((origin_asn IS NULL) OR ((origin_asn >= 0) AND (origin_asn <= '4294967295'::bigint)))),
    CONSTRAINT rdap_networks_record CHECK ((negative OR (record IS NOT NULL)))
);

CREATE TABLE scanner_outcome_rules (
    priority integer NOT NULL,
    outcome text,
    kind text,
    from_state text,
    to_state text,
    reason_key text,
    CONSTRAINT scanner_outcome_rules_pkey PRIMARY KEY (priority),
    CONSTRAINT scanner_outcome_rules_outcome_check CHECK ((outcome ~ '^[a-z_]+$'::text))
);

CREATE TABLE scanner_outcomes (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    txid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    case_id bigint NOT NULL,
    scanner_id bigint NOT NULL,
    event_id bigint NOT NULL,
    outcome text NOT NULL,
    case_state text NOT NULL,
    reason text,
    at timestamp with time zone NOT NULL,
    CONSTRAINT scanner_outcomes_pkey PRIMARY KEY (id),
    CONSTRAINT scanner_outcomes_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(id),
    CONSTRAINT scanner_outcomes_scanner_id_fkey FOREIGN KEY (scanner_id) REFERENCES tokens(id)
);

CREATE TABLE schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);

CREATE TABLE stats_groups (
    dimension text NOT NULL,
    group_key text,
    cases bigint DEFAULT 0 NOT NULL,
    CONSTRAINT stats_groups_dimension_check CHECK ((dimension = ANY (ARRAY['hoster'::text, 'asn'::text, 'country'::text])))
);

CREATE TABLE stats_groups_pending (
    dimension text NOT NULL,
    group_key text,
    cases bigint DEFAULT 0 NOT NULL
);

CREATE TABLE stats_notices (
    dimension text NOT NULL,
    group_key text,
    sent bigint DEFAULT 0 NOT NULL,
    failed bigint DEFAULT 0 NOT NULL,
    CONSTRAINT stats_notices_dimension_check CHECK ((dimension = ANY (ARRAY['hoster'::text, 'asn'::text, 'country'::text])))
);

CREATE TABLE stats_notices_pending (
    dimension text NOT NULL,
    group_key text,
    sent bigint DEFAULT 0 NOT NULL,
    failed bigint DEFAULT 0 NOT NULL
);

CREATE TABLE stats_open (
    case_id bigint NOT NULL,
    hoster text NOT NULL,
    asn bigint,
    country text,
    first_notice_at timestamp with time zone NOT NULL,
    detected_at timestamp with time zone NOT NULL,
    gone boolean NOT NULL,
    reappeared boolean NOT NULL,
    CONSTRAINT stats_open_pkey PRIMARY KEY (case_id)
);

CREATE TABLE stats_open_bins (
    dimension text NOT NULL,
    group_key text,
    bin timestamp with time zone NOT NULL,
    open bigint DEFAULT 0 NOT NULL,
    reappeared bigint DEFAULT 0 NOT NULL,
    CONSTRAINT stats_open_bins_dimension_check CHECK ((dimension = ANY (ARRAY['hoster'::text, 'asn'::text, 'country'::text])))
);

CREATE TABLE stats_open_bins_pending (
    dimension text NOT NULL,
    group_key text,
    bin timestamp with time zone NOT NULL,
    open bigint DEFAULT 0 NOT NULL,
    reappeared bigint DEFAULT 0 NOT NULL
);

CREATE TABLE stats_removal_days (
    day date NOT NULL,
    removed bigint DEFAULT 0 NOT NULL,
    CONSTRAINT stats_removal_days_pkey PRIMARY KEY (day)
);

CREATE TABLE stats_removal_days_pending (
    day date NOT NULL,
    removed bigint DEFAULT 0 NOT NULL
);

CREATE TABLE stats_removed (
    dimension text NOT NULL,
    group_key text,
    clock text NOT NULL,
    bucket bigint NOT NULL,
    gone bigint DEFAULT 0 NOT NULL,
    confirmed bigint DEFAULT 0 NOT NULL,
    came_back bigint DEFAULT 0 NOT NULL,
    CONSTRAINT stats_removed_clock_check CHECK ((clock = ANY (ARRAY['notice'::text, 'detection'::text]))),
    CONSTRAINT stats_removed_dimension_check CHECK ((dimension = ANY (ARRAY['hoster'::text, 'asn'::text, 'country'::text])))
);

CREATE TABLE stats_removed_pending (
    dimension text NOT NULL,
    group_key text,
    clock text NOT NULL,
    bucket bigint NOT NULL,
    gone bigint DEFAULT 0 NOT NULL,
    confirmed bigint DEFAULT 0 NOT NULL,
    came_back bigint DEFAULT 0 NOT NULL
);

CREATE TABLE tokens (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    name text NOT NULL,
    role token_role NOT NULL,
    secret_sha256 bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    CONSTRAINT tokens_secret_sha256_key UNIQUE (secret_sha256),
    CONSTRAINT tokens_pkey PRIMARY KEY (id),
    CONSTRAINT tokens_check CHECK (((revoked_at IS NULL) OR (revoked_at >= created_at))),
    CONSTRAINT tokens_name_check CHECK ((name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$'::text)),
    CONSTRAINT tokens_secret_sha256_check CHECK ((octet_length(secret_sha256) = 32))
);

CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    webhook_id bigint NOT NULL,
    outcome_id bigint NOT NULL,
    case_id bigint NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_at timestamp with time zone DEFAULT now() NOT NULL,
    first_failed_at timestamp with time zone,
    last_attempt_at timestamp with time zone,
    last_error text,
    delivered_at timestamp with time zone,
    parked_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_webhook_id_outcome_id_key UNIQUE (webhook_id, outcome_id),
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_outcome_id_fkey FOREIGN KEY (outcome_id) REFERENCES scanner_outcomes(id),
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks(id),
    CONSTRAINT webhook_deliveries_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'delivered'::text, 'parked'::text])))
);

CREATE TABLE webhooks (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    scanner_id bigint NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    cursor_txid xid8 NOT NULL,
    cursor_id bigint NOT NULL,
    created_by text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    removed_at timestamp with time zone,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id),
    CONSTRAINT webhooks_scanner_id_fkey FOREIGN KEY (scanner_id) REFERENCES tokens(id),
    CONSTRAINT webhooks_secret_check CHECK ((secret ~ '^whsec_[A-Za-z0-9+/=]+$'::text)),
    CONSTRAINT webhooks_url_check CHECK (((url ~ '^https?://'::text) AND (length(url) <= 2048)))
);

CREATE TABLE withdrawn_hashes (
    id bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    algorithm text NOT NULL,
    digest text NOT NULL,
    reason text NOT NULL,
    created_by text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    cases_withdrawn integer DEFAULT 0 NOT NULL,
    CONSTRAINT withdrawn_hashes_algorithm_digest_key UNIQUE (algorithm, digest),
    CONSTRAINT withdrawn_hashes_pkey PRIMARY KEY (id),
    CONSTRAINT withdrawn_hashes_algorithm_check CHECK ((algorithm = ANY (ARRAY['sha256'::text, 'sha1'::text, 'md5'::text, 'pdq'::text]))),
    CONSTRAINT withdrawn_hashes_cases_withdrawn_check CHECK ((cases_withdrawn >= 0)),
    CONSTRAINT withdrawn_hashes_digest_check CHECK ((digest ~ '^[0-9a-f]{32,64}$'::text)),
    CONSTRAINT withdrawn_hashes_reason_check CHECK (((length(reason) >= 1) AND (length(reason) <= 2000)))
);

CREATE INDEX ack_answers_open_case ON public.ack_answers USING btree (case_id, id) WHERE ((reviewed_at IS NULL) AND (answer = ANY (ARRAY['not_ours'::text, 'dispute'::text])));

CREATE INDEX ack_answers_queue ON public.ack_answers USING btree (answer, answered_at) WHERE ((reviewed_at IS NULL) AND (answer = ANY (ARRAY['not_ours'::text, 'dispute'::text])));

CREATE INDEX ack_tokens_notice ON public.ack_tokens USING btree (notice_id);

CREATE INDEX analyst_sessions_analyst ON public.analyst_sessions USING btree (analyst_id);

CREATE INDEX case_events_case ON public.case_events USING btree (case_id, id);

CREATE UNIQUE INDEX case_events_one_received ON public.case_events USING btree (case_id) WHERE (kind = 'received'::text);

CREATE INDEX case_events_removal ON public.case_events USING btree (case_id) WHERE (kind = 'removal'::text);

CREATE INDEX case_routes_asn ON public.case_routes USING btree (asn);

CREATE INDEX case_routes_country ON public.case_routes USING btree (country);

CREATE INDEX case_routes_hoster ON public.case_routes USING btree (hoster);

CREATE INDEX cases_host ON public.cases USING btree (host);

CREATE INDEX cases_on_notice_clock ON public.cases USING btree (first_notice_at, id) WHERE (state = ANY (ARRAY['notified'::case_state, 'acknowledged'::case_state, 'escalated'::case_state]));

CREATE INDEX cases_sha256 ON public.cases USING btree (sha256) WHERE (sha256 IS NOT NULL);

CREATE INDEX cases_state ON public.cases USING btree (state);

CREATE UNIQUE INDEX cases_url_md5 ON public.cases USING btree (url, md5) WHERE (md5 IS NOT NULL);

CREATE UNIQUE INDEX cases_url_pdq ON public.cases USING btree (url, pdq) WHERE (pdq IS NOT NULL);

CREATE UNIQUE INDEX cases_url_sha1 ON public.cases USING btree (url, sha1) WHERE (sha1 IS NOT NULL);

CREATE UNIQUE INDEX cases_url_sha256 ON public.cases USING btree (url, sha256) WHERE (sha256 IS NOT NULL);

CREATE INDEX cdn_reports_case ON public.cdn_reports USING btree (case_id, filed_at);

CREATE INDEX checks_case ON public.checks USING btree (case_id, at);

CREATE INDEX escalations_wake ON public.escalations USING btree (wake_at) WHERE (wake_at IS NOT NULL);

CREATE UNIQUE INDEX forwards_partner_case ON public.forwards USING btree (country, partner_case_id) WHERE (partner_case_id IS NOT NULL);

CREATE INDEX handoffs_case ON public.handoffs USING btree (case_id);

CREATE INDEX holds_active ON public.holds USING btree (created_at) WHERE (lifted_at IS NULL);

CREATE INDEX holds_active_case ON public.holds USING btree (case_id, id) WHERE ((lifted_at IS NULL) AND (case_id IS NOT NULL));

CREATE INDEX holds_active_scope ON public.holds USING btree (id) WHERE ((lifted_at IS NULL) AND (case_id IS NULL));

CREATE UNIQUE INDEX inbound_mail_fingerprint ON public.inbound_mail USING btree (fingerprint) WHERE (fingerprint IS NOT NULL);

CREATE INDEX inbound_mail_kind ON public.inbound_mail USING btree (kind, received_at);

CREATE UNIQUE INDEX inbound_mail_message_id ON public.inbound_mail USING btree (message_id) WHERE (message_id IS NOT NULL);

CREATE INDEX inbound_mail_unmatched ON public.inbound_mail USING btree (id) WHERE ((matched_by IS NULL) AND (reviewed_at IS NULL) AND (kind = ANY (ARRAY['reply'::text, 'auto_reply'::text])));

CREATE INDEX inbound_mail_cases_case ON public.inbound_mail_cases USING btree (case_id, mail_id);

CREATE INDEX jobs_due ON public.jobs USING btree (kind, run_at);

CREATE UNIQUE INDEX jobs_one_per_case ON public.jobs USING btree (kind, case_id) WHERE (case_id IS NOT NULL);

CREATE UNIQUE INDEX jobs_one_per_ref ON public.jobs USING btree (kind, ref_id) WHERE (ref_id IS NOT NULL);

CREATE INDEX mail_in_failures_set_aside ON public.mail_in_failures USING btree (set_aside_at DESC) WHERE (set_aside_at IS NOT NULL);

CREATE INDEX notice_items_case ON public.notice_items USING btree (case_id);

CREATE UNIQUE INDEX notices_open_batch ON public.notices USING btree (recipient, kind, cc) WHERE (sealed_at IS NULL);

CREATE INDEX notices_recipient ON public.notices USING btree (recipient, created_at);

CREATE INDEX rdap_networks_start ON public.rdap_networks USING btree (start_addr DESC, end_addr);

CREATE INDEX scanner_outcomes_case ON public.scanner_outcomes USING btree (case_id, id);

CREATE INDEX scanner_outcomes_feed ON public.scanner_outcomes USING btree (scanner_id, txid, id);

CREATE UNIQUE INDEX stats_groups_key ON public.stats_groups USING btree (dimension, group_key) NULLS NOT DISTINCT;

CREATE INDEX stats_groups_rank ON public.stats_groups USING btree (dimension, cases DESC, group_key);

CREATE UNIQUE INDEX stats_notices_key ON public.stats_notices USING btree (dimension, group_key) NULLS NOT DISTINCT;

CREATE INDEX stats_open_minute ON public.stats_open USING btree (stats_minute(first_notice_at));

CREATE INDEX stats_open_bins_empty ON public.stats_open_bins USING btree (dimension) WHERE (open = 0);

CREATE INDEX stats_open_bins_group ON public.stats_open_bins USING btree (dimension, group_key, bin);

CREATE UNIQUE INDEX stats_open_bins_key ON public.stats_open_bins USING btree (dimension, bin, group_key) NULLS NOT DISTINCT;

CREATE INDEX stats_removed_empty ON public.stats_removed USING btree (dimension) WHERE ((gone = 0) AND (confirmed = 0) AND (came_back = 0));

CREATE UNIQUE INDEX stats_removed_key ON public.stats_removed USING btree (dimension, clock, group_key, bucket) NULLS NOT DISTINCT;

CREATE UNIQUE INDEX tokens_live_name ON public.tokens USING btree (name) WHERE (revoked_at IS NULL);

CREATE INDEX webhook_deliveries_open ON public.webhook_deliveries USING btree (webhook_id, case_id, id) WHERE (state <> 'delivered'::text);

CREATE INDEX webhook_deliveries_parked ON public.webhook_deliveries USING btree (parked_at) WHERE (state = 'parked'::text);

CREATE INDEX webhooks_scanner ON public.webhooks USING btree (scanner_id) WHERE (removed_at IS NULL);

CREATE VIEW stats_groups_recount AS
 SELECT t.dimension,
    t.group_key,
    (sum(t.cases))::bigint AS cases
   FROM ( SELECT stats_removed_recount.dimension,
            stats_removed_recount.group_key,
            stats_removed_recount.gone AS cases
           FROM stats_removed_recount
          WHERE (stats_removed_recount.clock = 'notice'::text)
        UNION ALL
         SELECT stats_open_bins_recount.dimension,
            stats_open_bins_recount.group_key,
            stats_open_bins_recount.open
           FROM stats_open_bins_recount) t
  GROUP BY t.dimension, t.group_key
 HAVING (sum(t.cases) <> (0)::numeric);

CREATE VIEW stats_notices_recount AS
 SELECT k.dimension,
    k.group_key,
    count(*) FILTER (WHERE (n.state = 'sent'::notice_state)) AS sent,
    count(*) FILTER (WHERE ((n.state = 'failed'::notice_state) OR (n.bounced_at IS NOT NULL))) AS failed
   FROM ((((notice_items i
     JOIN notices n ON ((n.id = i.notice_id)))
     JOIN cases c ON ((c.id = i.case_id)))
     LEFT JOIN case_routes r ON ((r.case_id = c.id)))
     CROSS JOIN LATERAL ( VALUES ('hoster'::text,COALESCE(r.hoster, c.host)), ('asn'::text,(r.asn)::text), ('country'::text,r.country)) k(dimension, group_key))
  WHERE ((c.first_notice_at IS NOT NULL) AND ((n.state = ANY (ARRAY['sent'::notice_state, 'failed'::notice_state])) OR (n.bounced_at IS NOT NULL)))
  GROUP BY k.dimension, k.group_key;

CREATE VIEW stats_open_bins_recount AS
 SELECT k.dimension,
    k.group_key,
    stats_minute(o.first_notice_at) AS bin,
    count(*) AS open,
    count(*) FILTER (WHERE o.reappeared) AS reappeared
   FROM (stats_open_recount o
     CROSS JOIN LATERAL ( VALUES ('hoster'::text,o.hoster), ('asn'::text,(o.asn)::text), ('country'::text,o.country)) k(dimension, group_key))
  WHERE (NOT o.gone)
  GROUP BY k.dimension, k.group_key, (stats_minute(o.first_notice_at));

CREATE VIEW stats_open_recount AS
 SELECT c.id AS case_id,
    COALESCE(r.hoster, c.host) AS hoster,
    r.asn,
    r.country,
    c.first_notice_at,
    c.detected_at,
    (c.first_gone_at IS NOT NULL) AS gone,
    (c.reappeared_at IS NOT NULL) AS reappeared
   FROM (cases c
     LEFT JOIN case_routes r ON ((r.case_id = c.id)))
  WHERE ((c.first_notice_at IS NOT NULL) AND (c.removed_at IS NULL) AND (c.state <> 'withdrawn'::case_state));

CREATE VIEW stats_removal_days_recount AS
 SELECT ((cases.first_gone_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) AS removed
   FROM cases
  WHERE ((cases.first_notice_at IS NOT NULL) AND (cases.first_gone_at IS NOT NULL) AND (cases.state <> 'withdrawn'::case_state))
  GROUP BY (((cases.first_gone_at AT TIME ZONE 'UTC'::text))::date);

CREATE VIEW stats_removed_recount AS
 SELECT d.dimension,
    d.group_key,
    d.clock,
    d.bucket,
    sum(d.gone) AS gone,
    sum(d.confirmed) AS confirmed,
    sum(d.came_back) AS came_back
   FROM ((cases c
     LEFT JOIN case_routes r ON ((r.case_id = c.id)))
     CROSS JOIN LATERAL stats_removed_rows(ROW(1, c.id, COALESCE(r.hoster, c.host), r.asn, r.country, c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at, (c.state = 'withdrawn'::case_state))::stats_case) d(dimension, group_key, clock, bucket, gone, confirmed, came_back))
  WHERE ((c.first_notice_at IS NOT NULL) AND (c.first_gone_at IS NOT NULL) AND (c.state <> 'withdrawn'::case_state))
  GROUP BY d.dimension, d.group_key, d.clock, d.bucket;

CREATE OR REPLACE FUNCTION public.audit_field(value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE WHEN value IS NULL THEN '~' ELSE octet_length(value) || ':' || value END
$function$;

CREATE OR REPLACE FUNCTION public.case_event_canonical(e case_events)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT convert_to(
        audit_field(e.id::text)
        || audit_field(e.case_id::text)
        || audit_field((extract(epoch FROM e.at) * 1000000)::bigint::text)
        || audit_field(e.actor)
        || audit_field(e.kind)
        || audit_field(e.from_state::text)
        || audit_field(e.to_state::text)
        || audit_field(e.detail::text),
        'UTF8')
$function$;

CREATE OR REPLACE FUNCTION public.case_event_hash(prev_hash bytea, e case_events)
 RETURNS bytea
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
DECLARE
    id_text     text := e.id::text;
    case_text   text := e.case_id::text;
    at_text     text := (extract(epoch FROM e.at) * 1000000)::bigint::text;
    from_text   text := e.from_state::text;
    to_text     text := e.to_state::text;
    detail_text text := e.detail::text;
BEGIN
    -- case_event_canonical's bytes: '<octets>:<text>' per field, '~' for NULL (0040).
    RETURN sha256(coalesce(prev_hash, ''::bytea) || convert_to(
        octet_length(id_text) || ':' || id_text
        || octet_length(case_text) || ':' || case_text
        || octet_length(at_text) || ':' || at_text
        || octet_length(e.actor) || ':' || e.actor
        || octet_length(e.kind) || ':' || e.kind
        || CASE WHEN from_text IS NULL THEN '~' ELSE octet_length(from_text) || ':' || from_text END
        || CASE WHEN to_text IS NULL THEN '~' ELSE octet_length(to_text) || ':' || to_text END
        || octet_length(detail_text) || ':' || detail_text,
        'UTF8'));
END $function$;

CREATE OR REPLACE FUNCTION public.case_events_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'case_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $function$;

CREATE OR REPLACE FUNCTION public.case_events_chain()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF NEW.kind = 'received' THEN
        NEW.id := nextval('case_events_id_seq');
        NEW.prev_hash := NULL;
        NEW.hash := case_event_hash(NULL, NEW);
        RETURN NEW;
    END IF;
    -- Serialise appends per case so that two transactions cannot both extend the same link.
    PERFORM 1 FROM cases WHERE id = NEW.case_id FOR UPDATE;
    NEW.id := nextval('case_events_id_seq');
    NEW.prev_hash := (SELECT hash FROM case_events
                      WHERE case_id = NEW.case_id ORDER BY id DESC LIMIT 1);
    NEW.hash := case_event_hash(NEW.prev_hash, NEW);
    RETURN NEW;
END $function$;

CREATE OR REPLACE FUNCTION public.feed_horizon()
 RETURNS xid8
 LANGUAGE sql
 STABLE
AS $function$
    SELECT coalesce(
        (SELECT min(xip) FROM pg_snapshot_xip(snap) AS xip
         WHERE NOT EXISTS (
             SELECT FROM pg_stat_activity a
             WHERE a.backend_xid = xip::xid AND a.datname IS DISTINCT FROM current_database())),
        pg_snapshot_xmax(snap))
    FROM pg_current_snapshot() AS snap
$function$;

CREATE OR REPLACE FUNCTION public.scanner_outcomes_record()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    WITH triples AS (
        SELECT DISTINCT kind, from_state::text AS from_state, to_state::text AS to_state
        FROM new_events WHERE kind <> 'received'
    ), ruled AS (
        SELECT t.kind, t.from_state, t.to_state, rule.outcome, rule.reason_key
        FROM triples t
        CROSS JOIN LATERAL (
            SELECT r.outcome, r.reason_key FROM scanner_outcome_rules r
            WHERE (r.kind IS NULL OR r.kind = t.kind)
              AND (r.from_state IS NULL OR r.from_state = t.from_state)
              AND (r.to_state IS NULL OR r.to_state = t.to_state)
            ORDER BY r.priority
            LIMIT 1
        ) rule
        WHERE rule.outcome IS NOT NULL
    )
    INSERT INTO scanner_outcomes (case_id, scanner_id, event_id, outcome, case_state, reason, at)
    SELECT c.id, c.scanner_id, e.id, ruled.outcome, coalesce(e.to_state, c.state)::text,
           CASE WHEN ruled.reason_key IS NOT NULL THEN e.detail ->> ruled.reason_key END,
           e.at
    FROM new_events e
    JOIN ruled ON ruled.kind = e.kind
              AND ruled.from_state IS NOT DISTINCT FROM e.from_state::text
              AND ruled.to_state IS NOT DISTINCT FROM e.to_state::text
    JOIN cases c ON c.id = e.case_id
    ORDER BY e.id;
    RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.stats_apply(items stats_case[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF items IS NULL OR cardinality(items) = 0 THEN
        RETURN;
    END IF;
    -- the open set: snapshots before a change leave, snapshots after it enter
    DELETE FROM stats_open o USING unnest(items) i
    WHERE i.sign < 0 AND o.case_id = i.case_id;
    INSERT INTO stats_open (case_id, hoster, asn, country, first_notice_at, detected_at, gone,
                            reappeared)
    SELECT i.case_id, i.hoster, i.asn, i.country, i.first_notice_at, i.detected_at,
           i.first_gone_at IS NOT NULL, i.reappeared_at IS NOT NULL
    FROM unnest(items) i
    WHERE i.sign > 0 AND i.first_notice_at IS NOT NULL AND i.removed_at IS NULL
      AND NOT i.withdrawn
    ORDER BY i.case_id;

    -- the open cases not gone yet, counted per group and minute of first notice
    INSERT INTO stats_open_bins_pending (dimension, group_key, bin, open, reappeared)
    SELECT k.dimension, k.group_key, stats_minute(i.first_notice_at), sum(i.sign),
           sum(i.sign * (i.reappeared_at IS NOT NULL)::integer)
    FROM unnest(items) i
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NULL AND i.removed_at IS NULL
      AND NOT i.withdrawn
    GROUP BY 1, 2, 3
    HAVING sum(i.sign) <> 0 OR sum(i.sign * (i.reappeared_at IS NOT NULL)::integer) <> 0;

    INSERT INTO stats_removed_pending (dimension, group_key, clock, bucket, gone, confirmed,
                                       came_back)
    SELECT d.dimension, d.group_key, d.clock, d.bucket, sum(d.gone), sum(d.confirmed),
           sum(d.came_back)
    FROM unnest(items) i CROSS JOIN LATERAL stats_removed_rows(i) d
    GROUP BY 1, 2, 3, 4
    HAVING sum(d.gone) <> 0 OR sum(d.confirmed) <> 0 OR sum(d.came_back) <> 0;

    INSERT INTO stats_removal_days_pending (day, removed)
    SELECT (i.first_gone_at AT TIME ZONE 'UTC')::date, sum(i.sign)
    FROM unnest(items) i
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NOT NULL AND NOT i.withdrawn
    GROUP BY 1 HAVING sum(i.sign) <> 0;

    INSERT INTO stats_notices_pending (dimension, group_key, sent, failed)
    SELECT k.dimension, k.group_key, sum(i.sign * n.sent), sum(i.sign * n.failed)
    FROM unnest(items) i
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE x.state = 'sent') AS sent,
               count(*) FILTER (WHERE x.state = 'failed' OR x.bounced_at IS NOT NULL) AS failed
        FROM notice_items ni JOIN notices x ON x.id = ni.notice_id
        WHERE ni.case_id = i.case_id
    ) n
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND (n.sent <> 0 OR n.failed <> 0)
    GROUP BY 1, 2 HAVING sum(i.sign * n.sent) <> 0 OR sum(i.sign * n.failed) <> 0;

    -- notified cases per group, removed or open (the statistics page's ranking and paging)
    INSERT INTO stats_groups_pending (dimension, group_key, cases)
    SELECT k.dimension, k.group_key, sum(i.sign)
    FROM unnest(items) i
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND NOT i.withdrawn
      AND (i.first_gone_at IS NOT NULL OR i.removed_at IS NULL)
    GROUP BY 1, 2 HAVING sum(i.sign) <> 0;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_bucket(span interval)
 RETURNS bigint
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT (CASE
        WHEN extract(epoch FROM span) <= 0 THEN 0
        WHEN extract(epoch FROM span) <= 3600 THEN ceil(extract(epoch FROM span) / 60) * 60
        WHEN extract(epoch FROM span) <= 86400 THEN ceil(extract(epoch FROM span) / 300) * 300
        WHEN extract(epoch FROM span) <= 259200 THEN ceil(extract(epoch FROM span) / 900) * 900
        WHEN extract(epoch FROM span) <= 3628800 THEN ceil(extract(epoch FROM span) / 3600) * 3600
        ELSE ceil(extract(epoch FROM span) / 86400) * 86400
    END)::bigint
$function$;

CREATE OR REPLACE FUNCTION public.stats_cases_added()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM stats_apply(array_agg(ROW(1, c.id, coalesce(r.hoster, c.host), r.asn, r.country,
            c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
            c.reappeared_at, c.state = 'withdrawn')::stats_case))
    FROM added c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_cases_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM stats_apply(array_agg(x.item))
    FROM (
        SELECT unnest(ARRAY[
            ROW(-1, o.id, coalesce(r.hoster, o.host), r.asn, r.country, o.first_notice_at,
                o.detected_at, o.first_gone_at, o.removed_at, o.reappeared_at,
                o.state = 'withdrawn')::stats_case,
            ROW(1, n.id, coalesce(r.hoster, n.host), r.asn, r.country, n.first_notice_at,
                n.detected_at, n.first_gone_at, n.removed_at, n.reappeared_at,
                n.state = 'withdrawn')::stats_case
        ]) AS item
        FROM before_rows o
        JOIN after_rows n ON n.id = o.id
        LEFT JOIN case_routes r ON r.case_id = n.id
        WHERE o.first_notice_at IS DISTINCT FROM n.first_notice_at
           OR o.detected_at IS DISTINCT FROM n.detected_at
           OR o.first_gone_at IS DISTINCT FROM n.first_gone_at
           OR o.removed_at IS DISTINCT FROM n.removed_at
           OR (o.reappeared_at IS NULL) <> (n.reappeared_at IS NULL)
           OR o.host IS DISTINCT FROM n.host
           OR (o.state = 'withdrawn') <> (n.state = 'withdrawn')
    ) AS x;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_cases_dropped()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM stats_apply(array_agg(ROW(-1, c.id, coalesce(r.hoster, c.host), r.asn, r.country,
            c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
            c.reappeared_at, c.state = 'withdrawn')::stats_case))
    FROM dropped c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_fold()
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('takedown:stats_fold')) THEN
        RETURN false;
    END IF;
    WITH moved AS (DELETE FROM stats_open_bins_pending RETURNING *)
    INSERT INTO stats_open_bins AS s (dimension, group_key, bin, open, reappeared)
    SELECT dimension, group_key, bin, sum(open), sum(reappeared) FROM moved
    GROUP BY 1, 2, 3 HAVING sum(open) <> 0 OR sum(reappeared) <> 0
    ORDER BY 1, 3, 2
    ON CONFLICT (dimension, bin, group_key) DO UPDATE
    SET open = s.open + excluded.open, reappeared = s.reappeared + excluded.reappeared;
    DELETE FROM stats_open_bins WHERE open = 0;

    WITH moved AS (DELETE FROM stats_removed_pending RETURNING *)
    INSERT INTO stats_removed AS s (dimension, group_key, clock, bucket, gone, confirmed,
                                    came_back)
    SELECT dimension, group_key, clock, bucket, sum(gone), sum(confirmed), sum(came_back)
    FROM moved
    GROUP BY 1, 2, 3, 4 HAVING sum(gone) <> 0 OR sum(confirmed) <> 0 OR sum(came_back) <> 0
    ORDER BY 1, 3, 2, 4
    ON CONFLICT (dimension, clock, group_key, bucket) DO UPDATE
    SET gone = s.gone + excluded.gone, confirmed = s.confirmed + excluded.confirmed,
        came_back = s.came_back + excluded.came_back;
    DELETE FROM stats_removed WHERE gone = 0 AND confirmed = 0 AND came_back = 0;

    WITH moved AS (DELETE FROM stats_removal_days_pending RETURNING *)
    INSERT INTO stats_removal_days AS s (day, removed)
    SELECT day, sum(removed) FROM moved GROUP BY 1 HAVING sum(removed) <> 0 ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET removed = s.removed + excluded.removed;
    DELETE FROM stats_removal_days WHERE removed = 0;

    WITH moved AS (DELETE FROM stats_notices_pending RETURNING *)
    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT dimension, group_key, sum(sent), sum(failed) FROM moved
    GROUP BY 1, 2 HAVING sum(sent) <> 0 OR sum(failed) <> 0
    ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
    WITH moved AS (DELETE FROM stats_groups_pending RETURNING *)
    INSERT INTO stats_groups AS s (dimension, group_key, cases)
    SELECT dimension, group_key, sum(cases) FROM moved
    GROUP BY 1, 2 HAVING sum(cases) <> 0
    ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE SET cases = s.cases + excluded.cases;
    DELETE FROM stats_groups WHERE cases = 0;
    RETURN true;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_items_moved()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
    notice_ids bigint[];
    case_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(notice_id), array_agg(case_id) INTO notice_ids, case_ids FROM new_items;
    ELSE
        SELECT array_agg(notice_id), array_agg(case_id) INTO notice_ids, case_ids FROM old_items;
    END IF;
    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT k.dimension, k.group_key,
           sign * count(*) FILTER (WHERE x.state = 'sent'),
           sign * count(*) FILTER (WHERE x.state = 'failed' OR x.bounced_at IS NOT NULL)
    FROM unnest(notice_ids, case_ids) AS d (notice_id, case_id)
    JOIN notices x ON x.id = d.notice_id
    JOIN cases c ON c.id = d.case_id
    LEFT JOIN case_routes r ON r.case_id = c.id
    CROSS JOIN LATERAL (VALUES ('hoster', coalesce(r.hoster, c.host)), ('asn', r.asn::text),
                               ('country', r.country)) AS k (dimension, group_key)
    WHERE c.first_notice_at IS NOT NULL
      AND (x.state IN ('sent', 'failed') OR x.bounced_at IS NOT NULL)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_minute(at timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT date_bin('1 minute', at, timestamptz '2000-01-01 00:00:00+00')
$function$;

CREATE OR REPLACE FUNCTION public.stats_notices_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    ids bigint[];
    sent integer[];
    failed integer[];
BEGIN
    SELECT array_agg(n.id),
           array_agg((n.state = 'sent')::integer - (o.state = 'sent')::integer),
           array_agg((n.state = 'failed' OR n.bounced_at IS NOT NULL)::integer
                     - (o.state = 'failed' OR o.bounced_at IS NOT NULL)::integer)
    INTO ids, sent, failed
    FROM old_notices o JOIN new_notices n ON n.id = o.id
    WHERE (o.state = 'sent') <> (n.state = 'sent')
       OR (o.state = 'failed' OR o.bounced_at IS NOT NULL)
          <> (n.state = 'failed' OR n.bounced_at IS NOT NULL);
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM FROM cases
    WHERE id IN (SELECT case_id FROM notice_items WHERE notice_id = ANY(ids))
    ORDER BY id FOR UPDATE;
    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT k.dimension, k.group_key, sum(d.sent), sum(d.failed)
    FROM unnest(ids, sent, failed) AS d (notice_id, sent, failed)
    JOIN notice_items i ON i.notice_id = d.notice_id
    JOIN cases c ON c.id = i.case_id
    LEFT JOIN case_routes r ON r.case_id = c.id
    CROSS JOIN LATERAL (VALUES ('hoster', coalesce(r.hoster, c.host)), ('asn', r.asn::text),
                               ('country', r.country)) AS k (dimension, group_key)
    WHERE c.first_notice_at IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_rebuild()
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- writers wait (their triggers would add to counts being replaced)
    LOCK TABLE cases, case_routes, notices, notice_items IN SHARE MODE;
    LOCK TABLE stats_removed, stats_notices, stats_removal_days, stats_open, stats_open_bins,
        stats_open_bins_pending, stats_removed_pending, stats_removal_days_pending,
        stats_notices_pending, stats_groups, stats_groups_pending IN EXCLUSIVE MODE;
    DELETE FROM stats_open_bins_pending;
    DELETE FROM stats_removed_pending;
    DELETE FROM stats_removal_days_pending;
    DELETE FROM stats_notices_pending;
    DELETE FROM stats_groups_pending;
    DELETE FROM stats_groups;
    DELETE FROM stats_open;
    DELETE FROM stats_open_bins;
    DELETE FROM stats_removed;
    DELETE FROM stats_notices;
    DELETE FROM stats_removal_days;
    INSERT INTO stats_removed SELECT * FROM stats_removed_recount;
    INSERT INTO stats_notices SELECT * FROM stats_notices_recount;
    INSERT INTO stats_removal_days SELECT * FROM stats_removal_days_recount;
    INSERT INTO stats_open SELECT * FROM stats_open_recount;
    INSERT INTO stats_open_bins SELECT * FROM stats_open_bins_recount;
    INSERT INTO stats_groups SELECT * FROM stats_groups_recount;
END
$function$;

CREATE OR REPLACE FUNCTION public.stats_removed_rows(c stats_case)
 RETURNS TABLE(dimension text, group_key text, clock text, bucket bigint, gone integer, confirmed integer, came_back integer)
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT k.dimension, k.group_key, k.clock, stats_bucket(c.first_gone_at - k.start), c.sign,
           c.sign * (c.removed_at IS NOT NULL)::integer,
           c.sign * (c.reappeared_at IS NOT NULL)::integer
    FROM (VALUES ('hoster', c.hoster, 'notice', c.first_notice_at),
                 ('asn', c.asn::text, 'notice', c.first_notice_at),
                 ('country', c.country, 'notice', c.first_notice_at),
                 ('hoster', c.hoster, 'detection', c.detected_at))
         AS k (dimension, group_key, clock, start)
    WHERE c.first_notice_at IS NOT NULL AND c.first_gone_at IS NOT NULL AND NOT c.withdrawn
$function$;

CREATE OR REPLACE FUNCTION public.stats_routes_moved()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- The cases' rows are read below: wait for a concurrent change of them to commit first
    -- (its own trigger read the route as it was; this one then sees the case as it is now).
    IF TG_OP = 'DELETE' THEN
        PERFORM FROM cases WHERE id IN (SELECT case_id FROM old_routes) ORDER BY id FOR SHARE;
    ELSE
        PERFORM FROM cases WHERE id IN (SELECT case_id FROM new_routes) ORDER BY id FOR SHARE;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, c.host, NULL, NULL, c.first_notice_at, c.detected_at,
                    c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case,
                ROW(1, c.id, coalesce(n.hoster, c.host), n.asn, n.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case])
            FROM new_routes n JOIN cases c ON c.id = n.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (n.hoster IS NOT NULL OR n.asn IS NOT NULL OR n.country IS NOT NULL)
        ) m (c);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, coalesce(o.hoster, c.host), o.asn, o.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case,
                ROW(1, c.id, c.host, NULL, NULL, c.first_notice_at, c.detected_at,
                    c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case])
            FROM old_routes o JOIN cases c ON c.id = o.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (o.hoster IS NOT NULL OR o.asn IS NOT NULL OR o.country IS NOT NULL)
        ) m (c);
    ELSE
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, coalesce(o.hoster, c.host), o.asn, o.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case,
                ROW(1, c.id, coalesce(n.hoster, c.host), n.asn, n.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case])
            FROM old_routes o JOIN new_routes n ON n.case_id = o.case_id
            JOIN cases c ON c.id = n.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (o.hoster, o.asn, o.country) IS DISTINCT FROM (n.hoster, n.asn, n.country)
        ) m (c);
    END IF;
    RETURN NULL;
END
$function$;

CREATE TRIGGER case_events_chain BEFORE INSERT ON public.case_events FOR EACH ROW WHEN (((new.kind <> 'received'::text) OR (new.hash IS NULL) OR (new.prev_hash IS NOT NULL))) EXECUTE FUNCTION case_events_chain();

CREATE TRIGGER case_events_no_update BEFORE DELETE OR UPDATE ON public.case_events FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

CREATE TRIGGER scanner_outcomes_record AFTER INSERT ON public.case_events REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION scanner_outcomes_record();

CREATE TRIGGER stats_routes_delete AFTER DELETE ON public.case_routes REFERENCING OLD TABLE AS old_routes FOR EACH STATEMENT EXECUTE FUNCTION stats_routes_moved();

CREATE TRIGGER stats_routes_insert AFTER INSERT ON public.case_routes REFERENCING NEW TABLE AS new_routes FOR EACH STATEMENT EXECUTE FUNCTION stats_routes_moved();

CREATE TRIGGER stats_routes_update AFTER UPDATE ON public.case_routes REFERENCING OLD TABLE AS old_routes NEW TABLE AS new_routes FOR EACH STATEMENT EXECUTE FUNCTION stats_routes_moved();

CREATE TRIGGER stats_cases_delete AFTER DELETE ON public.cases REFERENCING OLD TABLE AS dropped FOR EACH STATEMENT EXECUTE FUNCTION stats_cases_dropped();

CREATE TRIGGER stats_cases_insert AFTER INSERT ON public.cases REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stats_cases_added();

CREATE TRIGGER stats_cases_update AFTER UPDATE ON public.cases REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows FOR EACH STATEMENT EXECUTE FUNCTION stats_cases_changed();

CREATE TRIGGER stats_items_delete AFTER DELETE ON public.notice_items REFERENCING OLD TABLE AS old_items FOR EACH STATEMENT EXECUTE FUNCTION stats_items_moved();

CREATE TRIGGER stats_items_insert AFTER INSERT ON public.notice_items REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION stats_items_moved();

CREATE TRIGGER stats_notices_update AFTER UPDATE ON public.notices REFERENCING OLD TABLE AS old_notices NEW TABLE AS new_notices FOR EACH STATEMENT EXECUTE FUNCTION stats_notices_changed();
