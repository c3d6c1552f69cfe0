-- bounds: what one caller can make the server spend is bounded
-- (issue 15): a window's operations, the stored bottlenecks, the
-- classification patterns, and what pp_info() shows to whom
CREATE EXTENSION ppprof;

-- wide(prefix, n): a root with n children named prefix1 .. prefixn
CREATE FUNCTION wide(prefix text, n int) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', prefix || 'root', 'duration_ms', 5000,
           'children', (SELECT jsonb_agg(jsonb_build_object('operation_name', prefix || g,
                                                            'duration_ms', 0.5 + g % 7))
                          FROM generate_series(1, n) g))
$$;
-- every node of the table, flattened
CREATE VIEW exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT created_at, n->>'operation_name' AS operation, (n->>'duration_ms')::float8 AS d FROM nodes;

--
-- 1. A window keeps at most ppprof.max_window_operations operations; the
--    rest are folded into one row with exact counts and sums.
--
-- two profiles of 9,999 unique names each (the audit's case), read from
-- the table: pp_reset() leaves the statistics invalid until pp_rebuild()
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('wide-a', wide('a', 9999)), ('wide-b', wide('b', 9999));
SELECT pp_reset();
SELECT pp_info()->>'statistics' AS statistics;
SHOW ppprof.max_window_operations;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE operation_type = '(folded)') AS fold_rows,
       sum(calls) AS calls, (SELECT count(*) FROM exact_nodes) AS table_nodes,
       abs(sum(total_ms) - (SELECT sum(d) FROM exact_nodes)) < 1e-6 AS total_ms_exact
  FROM pp_operation_stats('1 hour');
-- the fold row: exact counts, sums, extremes and times; no percentiles
SELECT s.operation, s.operation_type, s.calls = e.calls - named.calls AS calls_exact,
       abs(s.total_ms - (e.total - named.total)) < 1e-6 AS total_exact,
       s.min_ms, s.max_ms, s.p50_ms, s.p95_ms, s.p99_ms, s.error_rate,
       s.first_seen <= s.last_seen AS seen_ordered
  FROM pp_operation_stats('1 hour') s,
       (SELECT count(*) AS calls, sum(d) AS total FROM exact_nodes) e,
       (SELECT sum(calls) AS calls, sum(total_ms) AS total
          FROM pp_operation_stats('1 hour') WHERE operation_type <> '(folded)') named
 WHERE s.operation_type = '(folded)';
-- every named row is exact for its operation
SELECT count(*) AS named_rows,
       count(*) FILTER (WHERE s.calls = e.calls AND abs(s.total_ms - e.total) < 1e-9) AS exact_rows
  FROM pp_operation_stats('1 hour') s
  JOIN (SELECT operation, count(*) AS calls, sum(d) AS total FROM exact_nodes GROUP BY 1) e
    USING (operation)
 WHERE s.operation_type <> '(folded)';

-- the other readers of a window are bounded the same way
SELECT count(*) AS rows, sum(calls) FILTER (WHERE operation IS NOT NULL) AS calls,
       count(*) FILTER (WHERE operation_type = '(folded)') AS fold_rows
  FROM pp_range_stats(tstzrange(now() - interval '1 hour', now(), '[]'));
SELECT count(*) AS rows, sum(calls) FILTER (WHERE operation IS NOT NULL) AS calls
  FROM pp_trends('1 hour', '1 hour');
SELECT count(*) AS rows, sum(calls) FILTER (WHERE operation IS NOT NULL) AS calls,
       count(*) FILTER (WHERE operation_type = '(folded)') AS fold_rows
  FROM pp_trend_summary('1 hour');
SELECT r->'summary'->>'operations' AS operations, r->'summary'->>'folded_calls' AS folded_calls
  FROM pp_optimization_report('1 hour') r;
SELECT count(*) AS rows, sum(calls_after) AS calls_after,
       count(*) FILTER (WHERE operation_type = '(folded)') AS fold_rows
  FROM pp_compare(tstzrange(now() - interval '2 hours', now() - interval '1 hour'),
                  tstzrange(now() - interval '1 hour', now(), '[]'));

-- a smaller cap, from shared memory this time: the same sums
SELECT pp_rebuild() AS rebuilt;
DELETE FROM performance_profiles;
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('s1', wide('s', 5), now() - interval '50 minutes'),
  ('s2', wide('s', 5), now() - interval '40 minutes'),
  ('t1', wide('t', 3), now() - interval '30 minutes'),
  ('t2', wide('t', 3), now() - interval '5 minutes');
SELECT pp_info()->>'statistics' AS statistics;
SET ppprof.max_window_operations = 4;
SELECT count(*) AS rows, sum(calls) AS calls, (SELECT count(*) FROM exact_nodes) AS table_nodes,
       abs(sum(total_ms) - (SELECT sum(d) FROM exact_nodes)) < 1e-9 AS total_ms_exact,
       count(*) FILTER (WHERE operation_type = '(folded)' AND p95_ms IS NULL) AS fold_rows
  FROM pp_operation_stats('1 hour');
SELECT sum(calls) FILTER (WHERE operation IS NOT NULL) AS calls,
       count(*) FILTER (WHERE operation_type = '(folded)') > 0 AS folded,
       count(*) FILTER (WHERE operation_type = '(folded)' AND p50_ms IS NULL
                          AND p95_ms IS NULL AND p99_ms IS NULL) =
       count(*) FILTER (WHERE operation_type = '(folded)') AS fold_rows_without_percentiles
  FROM pp_trends('1 hour', '1 hour');
-- pp_compare with one operation kept per range: before holds s-names,
-- after t-names, so the operation kept on one side was folded on the other
-- and its calls there are unknown (NULL), not 0; the fold rows compare
-- counts and averages only
SET ppprof.max_window_operations = 1;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE operation IS NULL) AS profiles,
       count(*) FILTER (WHERE calls_before IS NULL AND calls_after > 0 AND verdict IS NULL) AS unknown_before,
       count(*) FILTER (WHERE calls_after IS NULL AND calls_before > 0 AND verdict IS NULL) AS unknown_after
  FROM pp_compare(tstzrange(now() - interval '1 hour', now() - interval '35 minutes'),
                  tstzrange(now() - interval '35 minutes', now(), '[]'));
SELECT operation, operation_type, calls_before + calls_after AS calls,
       avg_before_ms > 0 AND avg_after_ms > 0 AS averages,
       p95_before_ms, p95_after_ms, p_value, prob_slower, error_p_value, verdict
  FROM pp_compare(tstzrange(now() - interval '1 hour', now() - interval '35 minutes'),
                  tstzrange(now() - interval '35 minutes', now(), '[]'))
 WHERE operation_type = '(folded)';
RESET ppprof.max_window_operations;

--
-- 4. pp_info(): this database's counters for every caller; what shared
--    memory holds for all databases only for pg_read_all_stats
--
CREATE FUNCTION info_shape() RETURNS TABLE (key text, shown text)
LANGUAGE sql AS $$
  SELECT key, CASE WHEN value = 'null' THEN 'null' ELSE jsonb_typeof(value) END
    FROM jsonb_each(pp_info())
   WHERE key NOT IN ('preloaded', 'enabled', 'statistics')
   ORDER BY key
$$;
CREATE ROLE pp_bounds_user;
GRANT EXECUTE ON FUNCTION pp_info() TO pp_bounds_user;
GRANT EXECUTE ON FUNCTION info_shape() TO pp_bounds_user;
SELECT (pp_info()->>'profiles_ingested')::bigint > 0 AS own_profiles,
       (pp_info()->>'profiles_ingested_all_databases')::bigint >=
       (pp_info()->>'profiles_ingested')::bigint AS all_at_least_own;
SET ROLE pp_bounds_user;
SELECT * FROM info_shape();
SELECT (pp_info()->>'profiles_ingested')::bigint > 0 AS own_profiles_shown;
RESET ROLE;
GRANT pg_read_all_stats TO pp_bounds_user;
SET ROLE pp_bounds_user;
SELECT key, shown FROM info_shape()
 WHERE key LIKE '%all_databases' OR key IN ('minute_buckets', 'statistics_file');
RESET ROLE;
REVOKE pg_read_all_stats FROM pp_bounds_user;
DROP FUNCTION info_shape();

-- the setting: superuser only, at least 1
SET ppprof.max_window_operations = 0;
GRANT EXECUTE ON FUNCTION pp_operation_stats(interval) TO pp_bounds_user;
SET ROLE pp_bounds_user;
SET ppprof.max_window_operations = 100000;
SHOW ppprof.max_window_operations;
RESET ROLE;

--
-- 2. Classification rules are bounded: at most 256 patterns with
--    wildcards, 8192 bytes of them, 10000 exact names.  A statement that
--    would pass a limit fails and stores nothing.
--
SELECT count(*) AS rules,
       count(*) FILTER (WHERE pattern ~ '(^|[^\\])[%_]') AS patterns,
       sum(length(pattern)) FILTER (WHERE pattern ~ '(^|[^\\])[%_]') AS pattern_bytes
  FROM operation_categories;
CREATE TEMP TABLE rules_before AS SELECT * FROM operation_categories;
-- 300 more patterns: refused as a whole
INSERT INTO operation_categories (pattern, operation_type)
SELECT 'flood' || g || '%', 'flood' FROM generate_series(1, 300) g;
SELECT count(*) AS rules FROM operation_categories;
-- up to the limit is fine, one more is not
INSERT INTO operation_categories (pattern, operation_type)
SELECT 'flood' || g || '%', 'flood'
  FROM generate_series(1, 256 - (SELECT count(*) FROM operation_categories
                                  WHERE pattern ~ '(^|[^\\])[%_]')) g;
SELECT count(*) FILTER (WHERE pattern ~ '(^|[^\\])[%_]') AS patterns FROM operation_categories;
SELECT operation_type FROM pp_analyze_profile('{"operation_name": "flood7x", "duration_ms": 1}');
INSERT INTO operation_categories (pattern, operation_type) VALUES ('one_more%', 'x');
-- replacing the type of a pattern that exists is no new rule
INSERT INTO operation_categories (pattern, operation_type) VALUES ('flood7%', 'seven');
SELECT operation_type FROM pp_analyze_profile('{"operation_name": "flood7x", "duration_ms": 1}');
DELETE FROM operation_categories WHERE operation_type IN ('flood', 'seven');
-- bytes: an UPDATE that makes a pattern too long
UPDATE operation_categories SET pattern = '%' || repeat('z', 9000) || '%'
 WHERE pattern = '%vector%';
-- exact names: 10001 of them
\set VERBOSITY terse
INSERT INTO operation_categories (pattern, operation_type)
SELECT 'exact.' || g, 'exact' FROM generate_series(1, 10001) g;
\set VERBOSITY default
-- nothing of it was stored, and profiles are classified as before
SELECT count(*) AS rules_now, (SELECT count(*) FROM rules_before) AS rules_before,
       NOT EXISTS (SELECT * FROM operation_categories EXCEPT SELECT * FROM rules_before) AS same
  FROM operation_categories;
SELECT operation_type FROM pp_analyze_profile('{"operation_name": "my_vector_step", "duration_ms": 1}');
SELECT pp_ingest('{"operation_name": "vector_lookup", "duration_ms": 3}', 'after-limits') IS NOT NULL AS stored;
DROP TABLE rules_before;

--
-- 3. bottleneck_operations holds the 100 slowest bottlenecks, each path at
--    most 256 bytes (docs/profile-format.md)
--
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('deep_step', 0.001);
-- deep(d): a chain of d deep_step nodes, each with 100 leaf children (the
-- chain's nodes take longer the higher they are)
CREATE FUNCTION deep(d int) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  node jsonb := jsonb_build_object('operation_name', 'deep_step', 'duration_ms', 1);
BEGIN
  FOR level IN 1 .. d - 1 LOOP
    node := jsonb_build_object('operation_name', 'deep_step', 'duration_ms', 1 + level,
              'children', (SELECT jsonb_agg(jsonb_build_object('operation_name', 'deep_step',
                                                               'duration_ms', 0.5 + (g % 10) / 100.0))
                             FROM generate_series(1, 99) g) || jsonb_build_array(node));
  END LOOP;
  RETURN node;
END $$;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('deep', deep(100));
SELECT pg_column_size(profile_data) AS profile_bytes,
       (SELECT count(*) FROM pp_analyze_profile(profile_data) WHERE is_bottleneck) AS bottlenecks,
       (SELECT sum(length(path)) FROM pp_analyze_profile(profile_data) WHERE is_bottleneck) AS all_path_bytes,
       jsonb_array_length(bottleneck_operations) AS stored,
       (SELECT max(length(b->>'path')) FROM jsonb_array_elements(bottleneck_operations) b) AS longest_path,
       octet_length(bottleneck_operations::text) AS stored_bytes,
       octet_length(bottleneck_operations::text) <=
         100 * (406 + length('deep_step') + length(b0->>'operation_type')) AS within_bound
  FROM performance_profiles, LATERAL (SELECT bottleneck_operations->0 AS b0) x
 WHERE query_id = 'deep';
-- the stored ones are the slowest (here the chain, whose nodes are slower
-- than any leaf), in document order (the chain from the root down, so their
-- durations fall); a short path is the node's own, a long one is the head
-- and tail of a bottleneck's path around '...'
WITH a AS (SELECT * FROM pp_analyze_profile((SELECT profile_data FROM performance_profiles
                                              WHERE query_id = 'deep')) WHERE is_bottleneck),
     s AS (SELECT b, ord, (b->>'duration_ms')::float8 AS d
             FROM performance_profiles, jsonb_array_elements(bottleneck_operations)
                  WITH ORDINALITY e(b, ord) WHERE query_id = 'deep')
SELECT (SELECT array_agg(d ORDER BY d DESC) FROM s) =
       (SELECT array_agg(duration_ms ORDER BY duration_ms DESC)
          FROM (SELECT duration_ms FROM a ORDER BY duration_ms DESC LIMIT 100) top) AS slowest_kept,
       (SELECT bool_and(d > next_d) FROM (SELECT d, lead(d) OVER (ORDER BY ord) AS next_d FROM s) x
         WHERE next_d IS NOT NULL) AS document_order,
       (SELECT count(*) FROM s WHERE b->>'path' NOT LIKE '%...%') AS short_paths,
       (SELECT count(*) FROM s JOIN a ON a.path = s.b->>'path' AND a.duration_ms = s.d) AS short_paths_exact,
       (SELECT count(*) FROM s WHERE b->>'path' LIKE '%...%') AS long_paths,
       (SELECT count(*) FROM s WHERE EXISTS (
            SELECT 1 FROM a WHERE a.duration_ms = s.d
               AND starts_with(a.path, split_part(s.b->>'path', '...', 1) || '.')
               AND a.path LIKE '%.' || split_part(s.b->>'path', '...', 2))) AS all_paths_match;
SELECT b->>'path' AS an_elided_path
  FROM performance_profiles, jsonb_array_elements(bottleneck_operations) b
 WHERE query_id = 'deep' AND b->>'path' LIKE '%...%'
 ORDER BY length(b->>'path') DESC, 1 LIMIT 1;
DELETE FROM performance_profiles WHERE query_id = 'deep';
DELETE FROM performance_thresholds WHERE operation_type = 'deep_step';
DROP FUNCTION deep(int);

--
-- 5. What one transaction queues for the statistics is bounded by
--    ppprof.max_transaction_nodes: beyond it nothing more is queued, and
--    its commit invalidates the statistics (a rebuild follows) instead of
--    failing or taking memory without bound; a transaction within the
--    bound is applied as before, and a rolled-back one changes nothing.
--
SELECT pp_rebuild() >= 0 AS rebuilt;		-- valid, whatever came before
SET ppprof.max_transaction_nodes = 1000;
-- 90 profiles of 11 nodes (990): within the bound, applied
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'within-' || g, wide('t', 10) FROM generate_series(1, 90) g;
SELECT pp_info()->>'statistics' AS statistics;
-- 100 profiles of 11 nodes (1,100): beyond it; rolled back, nothing happens
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'beyond-' || g, wide('t', 10) FROM generate_series(1, 100) g;
ROLLBACK;
SELECT pp_info()->>'statistics' AS statistics;
-- committed: the statistics are invalid, the answers the table's, and a
-- rebuild counts every row again
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'beyond-' || g, wide('t', 10) FROM generate_series(1, 100) g;
SELECT pp_info()->>'statistics' AS statistics;
SELECT (SELECT calls FROM pp_operation_stats('1 hour') WHERE operation = 't1') =
       (SELECT count(*) FROM exact_nodes WHERE operation = 't1'
           AND created_at >= now() - interval '1 hour') AS calls_are_the_table_s;
SELECT pp_rebuild() > 0 AS rebuilt;
SELECT pp_info()->>'statistics' AS statistics,
       (SELECT calls FROM pp_operation_stats('1 hour') WHERE operation = 't1') AS t1_calls;
RESET ppprof.max_transaction_nodes;
DELETE FROM performance_profiles WHERE query_id LIKE 'within-%' OR query_id LIKE 'beyond-%';

DROP VIEW exact_nodes;
DROP FUNCTION wide(text, int);
DROP EXTENSION ppprof;
DROP ROLE pp_bounds_user;
