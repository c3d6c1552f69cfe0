-- trends: pp_range_stats, pp_compare, pp_trends and pp_trend_summary.
-- Times are offsets from one reference hour taken at the start, so the
-- output does not depend on when the test runs.
CREATE EXTENSION ppprof;
CREATE TEMP TABLE ref AS SELECT date_trunc('hour', now()) AS h;

CREATE FUNCTION tn(name text, ms float8, kids jsonb DEFAULT '[]', meta jsonb DEFAULT NULL,
                  err text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('operation_name', name, 'duration_ms', ms,
           'children', kids, 'metadata', meta, 'error', err))
$$;

-- 48 hours, 20 requests an hour.  vector_search's p95 rises by 10 ms an
-- hour; llm_call is flat; cache_get hits one time in four; one llm_call
-- in ten fails during the last 24 hours only.
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'q' || k || '-' || i,
       tn('rag', 1000, jsonb_build_array(
           tn('cache_get', 5, '[]', jsonb_build_object('cache', CASE WHEN i % 4 = 0 THEN 'hit' ELSE 'miss' END)),
           tn('vector_search', 100 + (48 - k) * 10 + i),
           tn('llm_call', 700 + i, '[]', NULL,
             CASE WHEN k <= 24 AND i % 10 = 0 THEN 'timeout' END))),
       ref.h - k * interval '1 hour' + i * interval '2 minutes'
  FROM ref, generate_series(1, 48) k, generate_series(0, 19) i;

-- pp_range_stats agrees with SQL over the table, for a half-open range and
-- a closed one; the first row is the profiles themselves
CREATE TEMP VIEW exact_nodes AS
SELECT p.created_at, n->>'operation_name' AS op, (n->>'duration_ms')::float8 AS ms,
       n ? 'error' AS failed, n->'metadata'->>'cache' AS cache
  FROM performance_profiles p, jsonb_path_query(p.profile_data, 'strict $.**') n
 WHERE jsonb_typeof(n) = 'object' AND n ? 'operation_name';

SELECT s.operation, s.operation_type, s.calls, s.errors, s.cache_lookups,
       s.cache_hit_rate,
       s.calls = e.calls AND s.errors = e.errors AND abs(s.avg_ms - e.avg) < 1e-9 * e.avg AS exact
  FROM ref, pp_range_stats(tstzrange(ref.h - interval '10 hours', ref.h - interval '4 hours')) s
  LEFT JOIN (SELECT op, count(*) calls, count(*) FILTER (WHERE failed) errors, avg(ms) avg
               FROM exact_nodes, ref
              WHERE created_at >= ref.h - interval '10 hours' AND created_at < ref.h - interval '4 hours'
              GROUP BY op) e ON e.op = s.operation
 ORDER BY s.operation NULLS FIRST;
SELECT s.calls FROM ref, pp_range_stats(tstzrange(ref.h - interval '2 hours', ref.h - interval '1 hour', '[]')) s
 WHERE s.operation = 'rag';
SELECT count(*) AS exact FROM exact_nodes, ref
 WHERE op = 'rag' AND created_at BETWEEN ref.h - interval '2 hours' AND ref.h - interval '1 hour';

-- a range without profiles gives no row
SELECT count(*) FROM pp_range_stats(tstzrange('2001-01-01', '2001-01-02'));

-- errors
SELECT * FROM pp_range_stats('empty');
SELECT * FROM pp_range_stats(tstzrange(NULL, now()));
SELECT * FROM pp_range_stats(tstzrange('-infinity', now()));

-- pp_trends: one row per hour with calls, profiles first
SELECT extract(epoch FROM t.bucket_start - ref.h) / 3600 AS hour, t.operation, t.calls,
       t.errors, t.cache_hit_rate, round(t.avg_ms::numeric, 3) AS avg_ms
  FROM ref, pp_trends('72 hours', '1 hour') t
 WHERE t.bucket_start IN (ref.h - interval '48 hours', ref.h - interval '24 hours', ref.h - interval '1 hour')
 ORDER BY 1, 2 NULLS FIRST;
SELECT count(DISTINCT bucket_start) AS buckets, sum(calls) FILTER (WHERE operation IS NULL) AS profiles
  FROM pp_trends('72 hours', '1 hour');
-- a wider bucket holds the sum of the narrower ones
SELECT sum(calls) FILTER (WHERE operation = 'llm_call') AS llm_calls,
       sum(errors) FILTER (WHERE operation = 'llm_call') AS llm_errors
  FROM pp_trends('72 hours', '1 day');
-- bucket p95 against the exact order statistic (within the sketch's 0.5%)
SELECT bool_and(abs(t.p95_ms - e.p95) <= 0.01 * e.p95) AS p95_within_1pct
  FROM pp_trends('72 hours', '1 hour') t
  JOIN (SELECT date_trunc('hour', created_at) b, percentile_disc(0.95) WITHIN GROUP (ORDER BY ms) p95
          FROM exact_nodes WHERE op = 'vector_search' GROUP BY 1) e ON e.b = t.bucket_start
 WHERE t.operation = 'vector_search';

SELECT * FROM pp_trends('1 day', '1 month');
SELECT * FROM pp_trends('1 day', '90 seconds');
SELECT * FROM pp_trends('1 day', '0');
SELECT * FROM pp_trends('365 days', '1 minute');
SELECT * FROM pp_trends('-1 day', '1 hour');

-- every bucket counts only rows inside the window: the first one starts at
-- now() - window, not at its bucket_start (issue 16).  The window spans two
-- or three days depending on the time of day the test runs.
SELECT count(*) >= 2 AS two_buckets_or_more,
       bool_and(t.calls = (SELECT count(*) FROM performance_profiles p
                            WHERE p.created_at >= greatest(t.bucket_start, now() - interval '30 hours 17 minutes')
                              AND p.created_at < t.bucket_start + interval '1 day'
                              AND p.created_at <= now())) AS calls_match_the_window,
       sum(t.calls) = (SELECT count(*) FROM performance_profiles p
                        WHERE p.created_at >= now() - interval '30 hours 17 minutes'
                          AND p.created_at <= now()) AS all_of_the_window
  FROM pp_trends('30 hours 17 minutes', '1 day') t WHERE t.operation IS NULL;

-- pp_trend_summary: vector_search rises 10 ms an hour (240 a day) and
-- crossed its 500 ms threshold about ten hours ago; llm_call is flat
SELECT t.operation, t.points, round(t.slope_ms_per_day::numeric) AS slope, t.trend,
       t.regression, t.threshold_ms, t.p_value < 0.001 AS significant,
       round(extract(epoch FROM t.threshold_crossing_at - ref.h) / 3600) AS crossing_hour
  FROM ref, pp_trend_summary('3 days') t
 ORDER BY t.operation NULLS FIRST;

-- pp_compare: the day before against the last day
SELECT c.operation, c.calls_before, c.calls_after,
       round(c.avg_change_pct::numeric, 1) AS avg_change_pct,
       round(c.error_rate_change_pts::numeric, 1) AS error_pts,
       c.p_value < 0.05 AS durations_differ, round(c.prob_slower::numeric, 3) AS prob_slower,
       c.error_p_value < 0.05 AS errors_differ, c.verdict
  FROM ref, pp_compare(tstzrange(ref.h - interval '48 hours', ref.h - interval '24 hours'),
                       tstzrange(ref.h - interval '24 hours', ref.h)) c
 ORDER BY c.operation NULLS FIRST;
-- the same range on both sides: nothing changed
SELECT c.operation, c.p_value, c.prob_slower, c.verdict
  FROM ref, pp_compare(tstzrange(ref.h - interval '3 hours', ref.h),
                       tstzrange(ref.h - interval '3 hours', ref.h)) c
 ORDER BY c.operation NULLS FIRST;
-- too few calls on a side; an operation only on one side
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'late', tn('rag', 10, jsonb_build_array(tn('new_step', 3))), ref.h + interval '1 minute' FROM ref;
SELECT c.operation, c.calls_before, c.calls_after, c.avg_before_ms, c.avg_after_ms, c.p_value, c.verdict
  FROM ref, pp_compare(tstzrange(ref.h - interval '1 hour', ref.h),
                       tstzrange(ref.h, ref.h + interval '1 hour')) c
 ORDER BY c.operation NULLS FIRST;
SELECT * FROM pp_compare('empty', tstzrange(now() - interval '1 hour', now()));
SELECT * FROM pp_compare(tstzrange(now() - interval '1 hour', now()), tstzrange(now(), NULL));

DROP VIEW exact_nodes;
DROP FUNCTION tn;
DROP EXTENSION ppprof;
