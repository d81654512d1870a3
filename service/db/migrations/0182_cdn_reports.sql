-- Reports filed through a CDN's abuse-report API (service/notify/cdn_api.py) instead of an
-- e-mail to its abuse desk: the CDN's report id, and what reading it back said (whether the
-- origin host was notified, who it is when the CDN says so).
CREATE TABLE cdn_reports (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id                bigint      NOT NULL REFERENCES cases (id),
    channel                text        NOT NULL,
    report_id              text        NOT NULL CHECK (length(report_id) BETWEEN 1 AND 100),
    filed_at               timestamptz NOT NULL DEFAULT now(),
    read_at                timestamptz,
    status                 text,
    external_host_notified boolean,
    origin_host            jsonb,
    UNIQUE (channel, report_id, case_id)
);
CREATE INDEX cdn_reports_case ON cdn_reports (case_id, filed_at);
