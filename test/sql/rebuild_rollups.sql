-- rebuild_rollups: pp_rebuild() loads the rollups that stand for rows
-- inside the horizon and reads only the other rows from the table (those
-- newer than the last rollup, marked buckets, buckets with a fold row); the
-- statistics it builds answer exactly as those of a rebuild that reads
-- every row (ppprof.rebuild_from_rollups = off), in the minute region and
-- before it, for operations, call paths and dimensions, after pp_purge,
-- and when a rollup is damaged
CREATE EXTENSION ppprof;
INSERT INTO operation_dimensions (name, usage_field) VALUES ('model', 'model');

CREATE FUNCTION rb_node(name text, ms float8, kids jsonb DEFAULT '[]', err text DEFAULT NULL,
                        meta jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'children', kids, 'error', err,
                            'metadata', meta)
$$;

-- three days of profiles, three levels deep, up to the current minute:
-- two days before the minute region (the last 24 hours) and one inside it
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r-' || g,
       rb_node('rag', 100 + g % 900, jsonb_build_array(
         rb_node('retrieve', 50 + g % 300, jsonb_build_array(
           rb_node('embed', 0.2 + (g * 37 % 1000) / 100.0),
           rb_node('search', exp((g * 7919 % 1000) / 100.0),
                   err => CASE WHEN g % 17 = 0 THEN 'timeout' END))),
         rb_node('llm', 500 + g % 20000,
                 meta => jsonb_build_object('model', CASE WHEN g % 3 = 0 THEN 'gpt-4o' ELSE 'claude' END,
                                            'input_tokens', 100 + g % 50, 'output_tokens', g % 300,
                                            'time_to_first_token_ms', 20 + g % 400)))),
       now() - (g * 104729 % 259200) * interval '1 second'
  FROM generate_series(1, 5000) g;
SELECT pp_rollup() > 0 AS wrote;

-- rows changed after their rollups were written: their minutes are marked
-- and read from the table
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('late-old', rb_node('rag', 77, jsonb_build_array(rb_node('search', 99999, err => 'late'))),
        now() - interval '2 days 5 hours'),
       ('late-recent', rb_node('rag', 88, jsonb_build_array(rb_node('search', 88888))),
        now() - interval '5 hours');
DELETE FROM performance_profiles WHERE query_id IN ('r-10', 'r-11', 'r-13');
UPDATE performance_profiles SET created_at = created_at - interval '3 hours' WHERE query_id = 'r-12';
SELECT count(DISTINCT bucket_start) > 0 AS minutes_marked FROM performance_rollup_stale;

-- the answers of shared memory: windows of the minute region and before
-- it, cut inside buckets, for the operations, the call paths and a
-- dimension
CREATE TABLE rb_ranges (name text, r tstzrange);
INSERT INTO rb_ranges VALUES
  ('3 days', tstzrange(now() - interval '3 days 1 hour', now() + interval '1 minute')),
  ('2 hours, 2 days ago, cut', tstzrange(now() - interval '2 days 1 hour 7 minutes 13 seconds',
                                         now() - interval '1 day 23 hours 11 minutes')),
  ('10 minutes, 5 hours ago', tstzrange(date_trunc('minute', now()) - interval '5 hours 10 minutes',
                                        date_trunc('minute', now()) - interval '5 hours')),
  ('last 40 minutes', tstzrange(now() - interval '40 minutes', now() + interval '1 minute'));
CREATE FUNCTION rb_answers() RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_agg(a) FROM (
    SELECT x.name, 'operations' AS what, s.operation AS key, s.calls, s.errors, s.total_ms,
           s.self_total_ms, s.min_ms, s.max_ms, s.p50_ms, s.p95_ms, s.p99_ms, s.first_seen,
           s.last_seen, s.input_tokens, s.output_tokens, s.cost_usd, s.ttft_p50_ms, s.ttft_p95_ms
      FROM rb_ranges x, pp_range_stats(x.r) s
    UNION ALL
    SELECT x.name, 'call paths', p.path, p.calls, p.errors, p.total_ms, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
      FROM rb_ranges x, pp_range_path_stats(x.r) p
    UNION ALL
    SELECT x.name, 'model', d.operation || ' ' || coalesce(d.dimension_value, '-'), d.calls,
           d.errors, d.total_ms, NULL, NULL, NULL, d.p50_ms, d.p95_ms, d.p99_ms, NULL, NULL,
           d.input_tokens, d.output_tokens, d.cost_usd, NULL, NULL
      FROM rb_ranges x, pp_range_dimension_stats(x.r, 'model') d) a
$$;
-- the rows of a and b that differ, per range and kind: counts, minima,
-- maxima, times and sketches exactly, sums to 1e-9
CREATE FUNCTION rb_compare(a jsonb, b jsonb)
RETURNS TABLE (name text, what text, rows_compared bigint, rows_differing bigint)
LANGUAGE sql AS $$
  WITH l AS (SELECT * FROM jsonb_to_recordset(a) AS x(name text, what text, key text, calls bigint,
               errors bigint, total_ms float8, self_total_ms float8, min_ms float8, max_ms float8,
               p50_ms float8, p95_ms float8, p99_ms float8, first_seen timestamptz, last_seen timestamptz,
               input_tokens bigint, output_tokens bigint, cost_usd float8, ttft_p50_ms float8,
               ttft_p95_ms float8)),
       r AS (SELECT * FROM jsonb_to_recordset(b) AS x(name text, what text, key text, calls bigint,
               errors bigint, total_ms float8, self_total_ms float8, min_ms float8, max_ms float8,
               p50_ms float8, p95_ms float8, p99_ms float8, first_seen timestamptz, last_seen timestamptz,
               input_tokens bigint, output_tokens bigint, cost_usd float8, ttft_p50_ms float8,
               ttft_p95_ms float8))
  SELECT coalesce(l.name, r.name), coalesce(l.what, r.what), count(*),
         count(*) FILTER (WHERE l.calls IS DISTINCT FROM r.calls OR l.errors IS DISTINCT FROM r.errors
                            OR NOT abs(l.total_ms - r.total_ms) <= 1e-9 * abs(r.total_ms)
                            OR NOT coalesce(abs(l.self_total_ms - r.self_total_ms) <= 1e-9 * abs(r.self_total_ms),
                                            l.self_total_ms IS NULL AND r.self_total_ms IS NULL)
                            OR l.min_ms IS DISTINCT FROM r.min_ms OR l.max_ms IS DISTINCT FROM r.max_ms
                            OR l.p50_ms IS DISTINCT FROM r.p50_ms OR l.p95_ms IS DISTINCT FROM r.p95_ms
                            OR l.p99_ms IS DISTINCT FROM r.p99_ms
                            OR l.first_seen IS DISTINCT FROM r.first_seen
                            OR l.last_seen IS DISTINCT FROM r.last_seen
                            OR l.input_tokens IS DISTINCT FROM r.input_tokens
                            OR l.output_tokens IS DISTINCT FROM r.output_tokens
                            OR NOT coalesce(abs(l.cost_usd - r.cost_usd) <= 1e-9 * abs(r.cost_usd),
                                            l.cost_usd IS NULL AND r.cost_usd IS NULL)
                            OR l.ttft_p50_ms IS DISTINCT FROM r.ttft_p50_ms
                            OR l.ttft_p95_ms IS DISTINCT FROM r.ttft_p95_ms)
    FROM l FULL JOIN r ON l.name = r.name AND l.what = r.what AND l.key IS NOT DISTINCT FROM r.key
   GROUP BY 1, 2 ORDER BY 1, 2;
$$;
CREATE TABLE rb_saved (what text PRIMARY KEY, answers jsonb);
CREATE FUNCTION rb_in_horizon() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM performance_profiles WHERE created_at >= (pp_info()->>'hour_buckets_from')::timestamptz
$$;

-- a rebuild that reads every row inside the horizon
SET ppprof.rebuild_from_rollups = off;
SELECT pp_rebuild() = rb_in_horizon() AS read_every_row;
INSERT INTO rb_saved SELECT 'rows', rb_answers();
SELECT pp_optimization_report('3 days')->'summary'->>'source' AS source;

-- from the rollups: far fewer rows read, the same answers
RESET ppprof.rebuild_from_rollups;
SELECT pp_rebuild() < rb_in_horizon() / 10 AS read_a_tenth_or_less;
SELECT pp_info()->>'statistics' AS statistics,
       pp_info()->>'dimensions_incomplete_before' AS dimensions_incomplete_before,
       pp_optimization_report('3 days')->'summary'->>'source' AS source;
SELECT * FROM rb_compare((SELECT answers FROM rb_saved WHERE what = 'rows'), rb_answers());
-- what a mark leaves out: a rebuild that ignored them would miss the late
-- rows (their buckets' rollups were written before them)
SELECT calls AS search_calls FROM pp_range_stats((SELECT r FROM rb_ranges WHERE name = '3 days'))
 WHERE operation = 'search';
SELECT count(*) AS search_calls_in_the_table FROM performance_profiles p,
       jsonb_path_query(p.profile_data, 'strict $.**.operation_name') n
 WHERE n #>> '{}' = 'search';

-- once pp_rollup() wrote the marked buckets again, still the same
SELECT pp_rollup() > 0 AS wrote;
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT pp_rebuild() < rb_in_horizon() / 10 AS read_a_tenth_or_less;
SELECT * FROM rb_compare((SELECT answers FROM rb_saved WHERE what = 'rows'), rb_answers());

-- a bucket without the values of every live dimension (written before the
-- dimension was declared, say): the dimension windows reaching it read
-- the table, the others are loaded
BEGIN;
DELETE FROM performance_rollups
 WHERE kind = 'd' AND width = 'hour' AND bucket_start = date_trunc('hour', now() - interval '40 hours');
SELECT pp_rebuild() < rb_in_horizon() / 10 AS read_a_tenth_or_less;
SELECT (pp_info()->>'dimensions_incomplete_before')::timestamptz =
       date_trunc('hour', now() - interval '39 hours') AS dimensions_incomplete_before_its_end;
SELECT * FROM rb_compare((SELECT answers FROM rb_saved WHERE what = 'rows'), rb_answers());
ROLLBACK;

-- pp_purge keeps the rollups of what it deletes, but the statistics count
-- the table's rows: the rollups of purged buckets are not loaded
SELECT deleted > 0 AS purged FROM pp_purge('2 days') WHERE table_name = 'performance_profiles';
SELECT count(*) > 0 AS rollups_of_purged_hours FROM performance_rollups
 WHERE width = 'hour' AND bucket_start < (SELECT min(created_at) FROM performance_profiles)
   AND bucket_start >= (pp_info()->>'hour_buckets_from')::timestamptz;
SET ppprof.rebuild_from_rollups = off;
SELECT pp_rebuild() = rb_in_horizon() AS read_every_row;
UPDATE rb_saved SET answers = rb_answers() WHERE what = 'rows';
RESET ppprof.rebuild_from_rollups;
SELECT pp_rebuild() < rb_in_horizon() / 10 AS read_a_tenth_or_less;
SELECT * FROM rb_compare((SELECT answers FROM rb_saved WHERE what = 'rows'), rb_answers());

-- a bucket with a fold row (more call paths than ppprof.max_window_paths)
-- cannot be loaded entry by entry: it is read from the table
BEGIN;
SET LOCAL ppprof.max_window_paths = 2;
DELETE FROM performance_rollups;
SELECT pp_rollup() > 0 AS wrote;
SELECT count(*) > 0 AS folded_rollups FROM performance_rollups WHERE kind = 'c' AND name = '(other)';
-- windows fold paths too: compare with the answers of the default
RESET ppprof.max_window_paths;
SELECT pp_rebuild() = rb_in_horizon() AS read_every_row;
SELECT * FROM rb_compare((SELECT answers FROM rb_saved WHERE what = 'rows'), rb_answers());
ROLLBACK;

-- a damaged rollup: a WARNING, and the whole horizon is read from the table
BEGIN;
UPDATE performance_rollups SET data = '\x01ff'
 WHERE (width, bucket_start, kind, name) =
       (SELECT width, bucket_start, kind, name FROM performance_rollups
         WHERE width = 'hour' AND kind = 'o'
           AND bucket_start = date_trunc('hour', now() - interval '30 hours')
         ORDER BY name LIMIT 1);
SELECT pp_rebuild() = rb_in_horizon() AS read_every_row;
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM rb_compare((SELECT answers FROM rb_saved WHERE what = 'rows'), rb_answers());
ROLLBACK;

-- every bucket marked (what to do after writes with ppprof's triggers
-- disabled, and what a price change does): every row
BEGIN;
INSERT INTO performance_rollup_stale (bucket_start) VALUES ('-infinity');
SELECT pp_rebuild() = rb_in_horizon() AS read_every_row;
ROLLBACK;

-- a rollup inserted where one of the same key is (a restore after the
-- background worker wrote) replaces it
BEGIN;
SELECT count(*) AS rollups_before FROM performance_rollups \gset
INSERT INTO performance_rollups (width, bucket_start, kind, name, data)
SELECT width, bucket_start, kind, name, data FROM performance_rollups
 WHERE kind = 'o' ORDER BY bucket_start, name LIMIT 50;
SELECT count(*) - :rollups_before AS rows_added FROM performance_rollups;
ROLLBACK;

-- no rollups at all: every row
BEGIN;
DELETE FROM performance_rollups;
SELECT pp_rebuild() = rb_in_horizon() AS read_every_row;
ROLLBACK;

DROP EXTENSION ppprof;
DROP TABLE rb_ranges, rb_saved;
DROP FUNCTION rb_node, rb_answers, rb_compare, rb_in_horizon;
