-- Time-to-removal statistics as histograms computed in the database (python -m bench scale):
-- the statistics queries send per group and duration bucket how many cases were removed and
-- how many are still open, instead of every notified case.

-- The bucket of a duration: its upper edge in seconds, on a grid that is finer where the
-- published thresholds and most removals are: 1 minute up to 1 hour, 5 minutes up to 24 h,
-- 15 minutes up to 72 h, 1 hour up to 42 days, 1 day beyond. Every threshold the statistics
-- report (24 h, 72 h, 42 days) is an edge, so the shares removed within them and open beyond
-- them are exact; medians and p90s are exact to the bucket width (rounded up). Negative
-- spans (clock skew) count as 0, as the Python estimator does.
CREATE FUNCTION stats_bucket(span interval) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE
        WHEN extract(epoch FROM span) <= 0 THEN 0
        WHEN extract(epoch FROM span) <= 3600 THEN ceil(extract(epoch FROM span) / 60) * 60
        WHEN extract(epoch FROM span) <= 86400 THEN ceil(extract(epoch FROM span) / 300) * 300
        WHEN extract(epoch FROM span) <= 259200 THEN ceil(extract(epoch FROM span) / 900) * 900
        WHEN extract(epoch FROM span) <= 3628800 THEN ceil(extract(epoch FROM span) / 3600) * 3600
        ELSE ceil(extract(epoch FROM span) / 86400) * 86400
    END)::bigint
$$;
