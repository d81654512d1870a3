-- Room on each page for the rows every re-check rewrites (python -m bench.recheck: the
-- database spent most of its time per check writing index entries for updated rows).
--
-- A re-check updates its case (last_checked_at, last_seen_at) and its probe_tracking row
-- (the streak), neither touching an indexed column: such an update can stay on the same
-- heap page as a HOT update and then writes no index entry at all, but only if the page has
-- free space. At the default fillfactor (100) freshly written pages are full, so every such
-- update also wrote an entry into each of the case's (up to ten) indexes. 70 % leaves room
-- for a new version of about every third row of a page; a page is pruned (dead versions
-- reclaimed) when the next reader finds it nearly full, and every check reads its case just
-- before updating it. Measured on one pass over 5 000 fresh, consecutive cases (a claimed
-- batch then fills whole pages): 100 % → 2 % HOT, 50 % → 95 % HOT and about 10 % less
-- database time per check.
--
-- The job row of a check is updated twice per check (the claim's lease and the reschedule
-- both move run_at, which is indexed by jobs_due), so those updates can never be HOT;
-- free space still lets the new version stay on its page (fewer pages dirtied).
--
-- The setting applies to pages written from now on (new cases and their tracking rows);
-- existing pages get the room as they are rewritten (VACUUM FULL / pg_repack, if wanted).
ALTER TABLE cases SET (fillfactor = 70);
ALTER TABLE probe_tracking SET (fillfactor = 70);
ALTER TABLE jobs SET (fillfactor = 70);
