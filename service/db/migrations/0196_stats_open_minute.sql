-- The cases of the minutes an age edge crosses (oversight_stats_histograms) are looked up by
-- their minute of first notice, an equality the planner estimates from the index's
-- statistics (a few cases per minute), instead of a range known only at run time: priced
-- blind, that range made a 100 000-case database scan stats_open once per crossed minute and
-- a million-case one compile the query with JIT.
DROP INDEX stats_open_notice;
CREATE INDEX stats_open_minute ON stats_open (stats_minute(first_notice_at));
