-- hostile: rows and calls that once stalled or emptied the shared
-- statistics (issue 15, findings 3, 5 and 6): created_at in the future or
-- infinite, a range reaching the year 294276, a profile of hundreds of
-- unique names
CREATE EXTENSION ppprof;
SELECT pp_reset();
SELECT pp_rebuild();
CREATE FUNCTION hp(name text, ms float8) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms) $$;
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'h' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 20 + g,
                                    'children', jsonb_build_array(hp('vector_search', 5 + g)))
  FROM generate_series(1, 50) g;

-- Finding 6: created_at later than the clock plus ppprof.max_clock_skew,
-- or infinite, is refused (class 22) and nothing is stored
SHOW ppprof.max_clock_skew;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('future', hp('rag', 1), '2990-01-01 12:00:00+00');
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('inf', hp('rag', 1), 'infinity');
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('-inf', hp('rag', 1), '-infinity');
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'batch' || g, hp('rag', 1),
       CASE WHEN g = 0 THEN now() ELSE '2990-01-01 12:00:00+00'::timestamptz + g * interval '1 hour' END
  FROM generate_series(0, 3) g;
SELECT count(*) AS stored FROM performance_profiles WHERE query_id IN ('future', 'inf', '-inf')
    OR query_id LIKE 'batch%';
-- within the skew: stored
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('skewed', hp('rag', 1), now() + interval '2 minutes');
-- an UPDATE that moves created_at into the future is refused too; one that
-- leaves it alone is not checked again
UPDATE performance_profiles SET created_at = '2990-01-01 12:00:00+00' WHERE query_id = 'h1';
UPDATE performance_profiles SET query_id = 'h1-renamed' WHERE query_id = 'h1';
SELECT count(*) AS h1_in_future FROM performance_profiles WHERE created_at > now() + interval '1 hour';
-- only a superuser changes the skew
CREATE ROLE hostile_user;
SET ROLE hostile_user;
SET ppprof.max_clock_skew = '10 years';
RESET ROLE;
DROP ROLE hostile_user;

-- Rows already dated in the future (stored while ppprof was disabled, or
-- before 1.3) stay out of the shared statistics: windows reaching them are
-- read from the table, and pp_info() says so
SET ppprof.enabled = off;
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, created_at)
VALUES ('legacy-future', hp('rag', 7), 7, '2999-01-01');
RESET ppprof.enabled;
SELECT pp_rebuild();
SELECT pp_info()->>'statistics' AS statistics, pp_info()->>'future_rows' AS future_rows,
       (pp_info()->>'future_rows_from')::timestamptz = '2999-01-01' AS future_rows_from;
-- shared memory still answers the last hour, exactly
SELECT operation, calls FROM pp_operation_stats('1 hour') ORDER BY operation NULLS FIRST;

-- Finding 3: a range reaching the year 294276 is answered at once (it
-- visited every minute up to its end under the shared lock), exactly
SELECT operation, calls FROM pp_range_stats(tstzrange(now() - interval '1 hour', '294276-12-31'))
 ORDER BY operation NULLS FIRST;
SELECT operation, calls FROM pp_range_stats(tstzrange(now() - interval '1 hour', '5000-01-01'))
 ORDER BY operation NULLS FIRST;
SELECT count(*) AS table_rows FROM performance_profiles WHERE created_at >= now() - interval '1 hour';
DELETE FROM performance_profiles WHERE query_id = 'legacy-future';
SELECT pp_info()->>'statistics' AS statistics_after_delete;

-- Finding 5: one profile of 200 more unique names than there are slots
-- does not evict the operations that every profile has: with every slot
-- taken, a name is admitted (evicting another of its own database) only
-- when it comes back
SELECT (pp_info()->>'operations_max')::int AS max_ops \gset
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'flood', jsonb_build_object('operation_name', 'rag', 'duration_ms', 1,
         'children', jsonb_agg(hp('unique_' || g, 0.5)))
  FROM generate_series(1, :max_ops + 200) g;
SELECT (pp_info()->>'operations_all_databases')::int = :max_ops AS slots_full,
       (pp_info()->>'operations_evicted')::int AS evicted,
       (pp_info()->>'operations_refused')::int > 0 AS refused;
SELECT count(*) AS samples_kept FROM pp_operation_samples('vector_search');
-- the counts stay exact (the flood's minute is read from the table)
SELECT operation, calls FROM pp_operation_stats('1 hour')
 WHERE operation IS NULL OR operation NOT LIKE 'unique%' ORDER BY operation NULLS FIRST;
SELECT count(*) AS unique_ops FROM pp_operation_stats('1 hour') WHERE operation LIKE 'unique%';
-- the same names again: now they are admitted, evicting this database's
-- least recently used operations
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'flood2', profile_data FROM performance_profiles WHERE query_id = 'flood';
SELECT (pp_info()->>'operations_evicted')::int > 0 AS evicted_on_return;
SELECT count(*) AS unique_ops FROM pp_operation_stats('1 hour') WHERE operation LIKE 'unique%';

DROP FUNCTION hp(text, float8);
DROP EXTENSION ppprof;
