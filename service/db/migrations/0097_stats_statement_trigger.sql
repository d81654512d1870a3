-- Statistics counts follow clock changes once per statement instead of once per row.
-- Recording a sent notice moves hundreds of cases onto the notice clock in one UPDATE; the
-- row trigger of 0096 then ran stats_apply (and its route lookup) per case, which was most of
-- that statement's time. The statement trigger joins the statement's old and new rows, keeps
-- only real changes of the stamps the statistics read, and applies them in one call. Updates
-- that change none of them (the probe's quiet checks) pass through with an empty join.
DROP TRIGGER stats_cases_update ON cases;

CREATE FUNCTION stats_cases_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply(array_agg(x.item))
    FROM (
        SELECT unnest(ARRAY[
            ROW(-1, o.id, coalesce(r.hoster, o.host), r.asn, r.country, o.first_notice_at,
                o.detected_at, o.first_gone_at, o.removed_at, o.reappeared_at)::stats_case,
            ROW(1, n.id, coalesce(r.hoster, n.host), r.asn, r.country, n.first_notice_at,
                n.detected_at, n.first_gone_at, n.removed_at, n.reappeared_at)::stats_case
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
    ) AS x;
    RETURN NULL;
END
$$;

CREATE TRIGGER stats_cases_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS before_rows NEW TABLE AS after_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stats_cases_changed();

DROP FUNCTION stats_case_changed();
