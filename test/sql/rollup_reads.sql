-- rollup_reads: windows the shared statistics cannot answer (here: before
-- ppprof.horizon, 7 days) are answered from the rollups plus the table rows
-- they lack; the answer equals the table's (counts and sums, percentiles
-- from the same sketch bins), for operations and call paths, with rows
-- changed after their rollup was written, and after pp_purge the rollups
-- still count what it deleted; a rollup that is not one is an error
CREATE EXTENSION ppprof;

CREATE FUNCTION rr_node(name text, ms float8, kids jsonb DEFAULT '[]', err text DEFAULT NULL,
                        meta jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'children', kids, 'error', err,
                            'metadata', meta)
$$;

-- 12 days of profiles, three levels deep, ending an hour ago: all of them
-- older than the horizon but the last 7 days
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r-' || g,
       rr_node('rag', 100 + g % 900, jsonb_build_array(
         rr_node('retrieve', 50 + g % 300, jsonb_build_array(
           rr_node('embed', 0.2 + (g * 37 % 1000) / 100.0),
           rr_node('search', exp((g * 7919 % 1000) / 100.0),
                   err => CASE WHEN g % 17 = 0 THEN 'timeout' END))),
         rr_node('llm', 500 + g % 20000,
                 meta => jsonb_build_object('model', 'gpt-4o', 'input_tokens', 100 + g % 50,
                                            'output_tokens', g % 300)))),
       now() - interval '1 hour' - (g * 104729 % 1036800) * interval '1 second'
  FROM generate_series(1, 6000) g;
SELECT pp_rollup() > 0 AS wrote;
SELECT string_agg(width, ', ' ORDER BY width) AS widths FROM (SELECT DISTINCT width FROM performance_rollups) w;

-- each range's operations and call paths
CREATE TABLE rr_ranges (name text, r tstzrange);
INSERT INTO rr_ranges VALUES
  ('12 days', tstzrange(now() - interval '12 days 2 hours', now())),
  ('days 11 to 8, cut', tstzrange(now() - interval '11 days 7 hours 13 minutes',
                                  now() - interval '8 days 3 minutes 7 seconds')),
  ('3 days, closed', tstzrange(date_trunc('day', now()) - interval '10 days',
                               date_trunc('day', now()) - interval '7 days', '[]'));
CREATE FUNCTION rr_answers()
RETURNS TABLE (name text, what text, key text, calls bigint, errors bigint, total_ms float8,
               min_ms float8, max_ms float8, p50 float8, p95 float8, p99 float8, cost_usd float8)
LANGUAGE sql AS $$
  SELECT x.name, 'operations', s.operation, s.calls, s.errors, s.total_ms, s.min_ms, s.max_ms,
         s.p50_ms, s.p95_ms, s.p99_ms, s.cost_usd
    FROM rr_ranges x, pp_range_stats(x.r) s
  UNION ALL
  SELECT x.name, 'call paths', p.path, p.calls, p.errors, p.total_ms, NULL, NULL, NULL, NULL, NULL, NULL
    FROM rr_ranges x, pp_range_path_stats(x.r) p
$$;

-- the answers, against the table's alone: the same reads with the rollups
-- deleted, in a subtransaction rolled back
CREATE FUNCTION rr_compare()
RETURNS TABLE (name text, what text, rows_compared bigint, rows_differing bigint)
LANGUAGE plpgsql AS $$
DECLARE
  live jsonb;
  tbl jsonb;
BEGIN
  SELECT jsonb_agg(a) INTO live FROM rr_answers() a;
  BEGIN
    DELETE FROM performance_rollups;
    SELECT jsonb_agg(a) INTO tbl FROM rr_answers() a;
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN raise_exception THEN
    NULL;
  END;
  RETURN QUERY
  WITH l AS (SELECT * FROM jsonb_to_recordset(live) AS x(name text, what text, key text, calls bigint,
               errors bigint, total_ms float8, min_ms float8, max_ms float8, p50 float8, p95 float8, p99 float8,
               cost_usd float8)),
       t AS (SELECT * FROM jsonb_to_recordset(tbl) AS x(name text, what text, key text, calls bigint,
               errors bigint, total_ms float8, min_ms float8, max_ms float8, p50 float8, p95 float8, p99 float8,
               cost_usd float8))
  SELECT coalesce(l.name, t.name), coalesce(l.what, t.what), count(*),
         count(*) FILTER (WHERE l.calls IS DISTINCT FROM t.calls OR l.errors IS DISTINCT FROM t.errors
                            OR NOT abs(l.total_ms - t.total_ms) <= 1e-9 * abs(t.total_ms)
                            OR l.min_ms IS DISTINCT FROM t.min_ms OR l.max_ms IS DISTINCT FROM t.max_ms
                            OR l.p50 IS DISTINCT FROM t.p50 OR l.p95 IS DISTINCT FROM t.p95
                            OR l.p99 IS DISTINCT FROM t.p99
                            OR l.cost_usd IS DISTINCT FROM t.cost_usd)
    FROM l FULL JOIN t ON l.name = t.name AND l.what = t.what AND l.key IS NOT DISTINCT FROM t.key
   GROUP BY 1, 2 ORDER BY 1, 2;
END;
$$;

-- from the rollups, equal to the table's answers
SELECT pp_optimization_report('12 days')->'summary'->>'source' AS source;
SELECT * FROM rr_compare();

-- a bucket of more operations than ppprof.max_window_operations folds the
-- rest into its '(other)' row, counters only; a window read from such
-- rollups counts them in its own fold row, and no call is lost
BEGIN;
SET LOCAL ppprof.max_window_operations = 3;
DELETE FROM performance_rollups;
SELECT pp_rollup() > 0 AS wrote;
SELECT count(*) > 0 AS folded_rollups FROM performance_rollups WHERE kind = 'o' AND name = '(other)';
SELECT pp_optimization_report('12 days')->'summary'->>'source' AS source;
SELECT count(*) FILTER (WHERE s.operation = '(other)') AS fold_rows,
       sum(s.calls) FILTER (WHERE s.operation IS NOT NULL) =
         (SELECT count(*) FROM performance_profiles p,
                 jsonb_path_query(p.profile_data, 'strict $.**.operation_name') n) AS every_call_counted
  FROM pp_range_stats((SELECT r FROM rr_ranges WHERE name = '12 days')) s;
ROLLBACK;

-- rows changed after their rollups were written mark their minutes; the
-- marked buckets are read from the table, so the answers stay the table's
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('late', rr_node('rag', 77, jsonb_build_array(rr_node('retrieve', 70, jsonb_build_array(
                  rr_node('search', 99999, err => 'late'))))),
        now() - interval '9 days 5 hours');
DELETE FROM performance_profiles WHERE query_id IN ('r-10', 'r-11');
UPDATE performance_profiles SET created_at = created_at - interval '3 hours' WHERE query_id = 'r-12';
SELECT count(DISTINCT bucket_start) AS minutes_marked FROM performance_rollup_stale;
SELECT * FROM rr_compare();
-- without the marks the rollups would answer with what they held
BEGIN;
DELETE FROM performance_rollup_stale;
SELECT a.calls = (SELECT count(*) FROM performance_profiles p,
                    jsonb_path_query(p.profile_data, 'strict $.**.operation_name') n
                   WHERE n #>> '{}' = 'search') AS search_calls_equal_the_table
  FROM rr_answers() a WHERE a.name = '12 days' AND a.what = 'operations' AND a.key = 'search';
ROLLBACK;
-- the next pp_rollup() writes them again
SELECT pp_rollup() > 0 AS wrote;
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT * FROM rr_compare();

-- a price change: the costs in the rollups were computed with the old
-- price, so every bucket that still has raw rows is marked (one mark at
-- -infinity) and read from the table, until pp_rollup() writes them again
SELECT round(sum(cost_usd)::numeric, 6) AS cost_before
  FROM pp_range_stats((SELECT r FROM rr_ranges WHERE name = '12 days')) WHERE operation IS NULL;
UPDATE model_prices SET input_usd_per_million = 5.00 WHERE model_pattern = 'gpt-4o';
SELECT count(*) AS marks_of_everything FROM performance_rollup_stale WHERE bucket_start = '-infinity';
SELECT round(sum(cost_usd)::numeric, 6) AS cost_after
  FROM pp_range_stats((SELECT r FROM rr_ranges WHERE name = '12 days')) WHERE operation IS NULL;
SELECT * FROM rr_compare();
SELECT pp_rollup() > 0 AS wrote;
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT * FROM rr_compare();

-- days: each closed day's profiles, as the table counts them
SELECT count(*) AS days,
       count(*) FILTER (WHERE (pp_rollup_contents(r.data)->>'calls')::bigint IS DISTINCT FROM
                              (SELECT count(*) FROM performance_profiles p
                                WHERE p.created_at >= r.bucket_start
                                  AND p.created_at < r.bucket_start + interval '1 day')) AS days_differing
  FROM performance_rollups r WHERE r.width = 'day' AND r.kind = 'p';

-- a trend of days: every day's calls of 'search' are the table's
SELECT count(*) AS days,
       count(*) FILTER (WHERE t.calls IS DISTINCT FROM
                          (SELECT count(*) FROM performance_profiles p,
                                  jsonb_path_query(p.profile_data, 'strict $.**.operation_name') n
                            WHERE n #>> '{}' = 'search'
                              AND p.created_at >= greatest(t.bucket_start, now() - interval '14 days')
                              AND p.created_at < t.bucket_start + interval '1 day')) AS days_differing
  FROM pp_trends('14 days', '1 day') t WHERE t.operation = 'search';

-- a rebuild reads only the rows inside the horizon (older ones count in
-- no shared bucket), and the windows it answers stay the table's (here
-- without the rollups, which test/sql/rebuild_rollups.sql covers)
SET ppprof.rebuild_from_rollups = off;
SELECT pp_rebuild() = (SELECT count(*) FROM performance_profiles
                        WHERE created_at >= (pp_info()->>'hour_buckets_from')::timestamptz) AS read_the_horizon,
       (SELECT count(*) FROM performance_profiles
         WHERE created_at < (pp_info()->>'hour_buckets_from')::timestamptz) > 1000 AS older_rows_not_read;
SELECT * FROM rr_compare();
RESET ppprof.rebuild_from_rollups;

-- pp_purge keeps the rollups of what it deletes: a window reaching before
-- the oldest profile left still counts them
CREATE TABLE rr_before AS
  SELECT coalesce(operation, '') AS operation, calls FROM pp_range_stats((SELECT r FROM rr_ranges WHERE name = '12 days'));
SELECT deleted > 0 AS purged FROM pp_purge('9 days') WHERE table_name = 'performance_profiles';
SELECT count(*) AS operations,
       count(*) FILTER (WHERE s.calls IS DISTINCT FROM b.calls) AS differing_after_purge
  FROM rr_before b
  FULL JOIN (SELECT coalesce(operation, '') AS operation, calls
               FROM pp_range_stats((SELECT r FROM rr_ranges WHERE name = '12 days'))) s USING (operation);
SELECT pp_optimization_report('12 days')->'summary'->>'source' AS source;

-- a rollup that is not one is an error that says where
BEGIN;
UPDATE performance_rollups SET data = '\x0100' WHERE width = 'day' AND kind = 'o' AND name = 'search';
SELECT count(*) FROM pp_operation_stats('14 days');
ROLLBACK;
BEGIN;
UPDATE performance_rollups SET name = '9:retrieve' WHERE width = 'day' AND kind = 'c'
   AND name = '3:rag8:retrieve';
SELECT count(*) FROM pp_path_stats('14 days');
ROLLBACK;

DROP EXTENSION ppprof;
