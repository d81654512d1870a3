-- The scanner feed's horizon (0140): the oldest transaction that can still commit an outcome.
-- It was pg_snapshot_xmin of the server-wide snapshot, so a write transaction left open in
-- ANOTHER database of the same PostgreSQL server — a bulk load, a long migration, a session
-- idle in transaction — held every scanner's feed, its webhooks and the partners' mirrors back
-- until it ended. An outcome row is only ever written by a transaction of this database, so
-- the running transactions known to belong to another database are left out. Unknown ones
-- still count (a transaction that ended since the snapshot, a backend whose xid this role
-- cannot see): the horizon may lag, it never passes a transaction that can still commit here.
CREATE FUNCTION feed_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT min(xip) FROM pg_snapshot_xip(snap) AS xip
         WHERE NOT EXISTS (
             SELECT FROM pg_stat_activity a
             WHERE a.backend_xid = xip::xid AND a.datname IS DISTINCT FROM current_database())),
        pg_snapshot_xmax(snap))
    FROM pg_current_snapshot() AS snap
$$;
