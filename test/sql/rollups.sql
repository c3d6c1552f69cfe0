-- rollups: pp_rollup() writes per-minute and per-hour statistics of closed
-- buckets into performance_rollups, computed from the table; each equals
-- the exact SQL over its bucket's rows (counts, sums, min and max exact;
-- percentiles within 1% of percentile_disc); rows changed after a rollup
-- was written mark their minute, and the next pp_rollup() writes it again
CREATE ROLE service_role NOLOGIN BYPASSRLS;
CREATE EXTENSION ppprof;

CREATE FUNCTION ru_node(name text, ms float8, kids jsonb DEFAULT '[]', err text DEFAULT NULL,
                        meta jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'children', kids,
                            'error', err, 'metadata', meta)
$$;

-- 3 hours of profiles, ending 5 minutes before the current minute: wide
-- durations (0.2 ms to 20 s), errors, and LLM calls with tokens and a time
-- to first token; the hours' edges cut through the data
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r-' || g,
       ru_node('rag', 100 + g % 900,
         jsonb_build_array(
           ru_node('embed', 0.2 + (g * 37 % 1000) / 100.0),
           ru_node('search', exp((g * 7919 % 1000) / 100.0),
                   err => CASE WHEN g % 17 = 0 THEN 'timeout' END),
           ru_node('llm', 500 + g % 20000,
                   meta => jsonb_build_object('model', 'gpt-4o', 'input_tokens', 100 + g % 50,
                                              'output_tokens', g % 300,
                                              'time_to_first_token_ms', 50 + g % 400)))),
       date_trunc('minute', now()) - interval '5 minutes' - (g % 180) * interval '1 minute'
         - (g % 7) * interval '7 seconds'
  FROM generate_series(1, 3000) g;

-- every node, flattened, with its bucket (the exact answer)
CREATE VIEW ru_nodes AS
WITH RECURSIVE nodes AS (
  SELECT id, created_at, profile_data AS n, true AS root FROM performance_profiles
  UNION ALL
  SELECT nodes.id, nodes.created_at, c, false FROM nodes, jsonb_array_elements(n->'children') c)
SELECT id, created_at, root, n->>'operation_name' AS operation, (n->>'duration_ms')::float8 AS d,
       jsonb_typeof(n->'error') = 'string' AS failed,
       (n->'metadata'->>'input_tokens')::bigint AS input_tokens,
       (n->'metadata'->>'output_tokens')::bigint AS output_tokens,
       (n->'metadata'->>'time_to_first_token_ms')::float8 AS ttft
  FROM nodes;

CREATE FUNCTION ru_check(w text)
RETURNS TABLE (buckets bigint, rows_checked bigint, counts_exact boolean, sums_exact boolean,
               min_max_exact boolean, percentiles_within_1pct boolean, ttft_within_1pct boolean,
               profiles_exact boolean)
LANGUAGE sql AS $$
  WITH e AS (
    SELECT date_trunc(w, created_at) AS b, operation, count(*) AS calls,
           count(*) FILTER (WHERE failed) AS errors, sum(d) AS sum_ms, min(d) AS min_ms, max(d) AS max_ms,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY d) AS p50,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY ttft) AS t50,
           coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens
      FROM ru_nodes GROUP BY 1, 2),
  ep AS (
    SELECT date_trunc(w, created_at) AS b, count(*) AS calls, sum((profile_data->>'duration_ms')::float8) AS sum_ms
      FROM performance_profiles GROUP BY 1),
  r AS (
    SELECT bucket_start AS b, name AS operation, pp_rollup_contents(data) AS j
      FROM performance_rollups WHERE width = w AND kind = 'o'),
  rp AS (
    SELECT bucket_start AS b, pp_rollup_contents(data) AS j
      FROM performance_rollups WHERE width = w AND kind = 'p'),
  m AS (SELECT * FROM e FULL JOIN r USING (b, operation)
         WHERE coalesce(e.b, r.b) < date_trunc(w, now()))
  SELECT (SELECT count(DISTINCT b) FROM rp),
         count(*),
         bool_and((j->>'calls')::bigint = calls AND (j->>'errors')::bigint = errors),
         bool_and(abs((j->>'sum_ms')::float8 - sum_ms) <= 1e-9 * sum_ms
                  AND (j->>'input_tokens')::bigint = input_tokens
                  AND (j->>'output_tokens')::bigint = output_tokens),
         -- (jsonb shows a double to 15 significant digits)
         bool_and(abs((j->>'min_ms')::float8 - min_ms) <= 1e-14 * min_ms
                  AND abs((j->>'max_ms')::float8 - max_ms) <= 1e-14 * max_ms),
         bool_and(abs((j->>'p50_ms')::float8 - p50) <= 0.01 * p50
                  AND abs((j->>'p95_ms')::float8 - p95) <= 0.01 * p95
                  AND abs((j->>'p99_ms')::float8 - p99) <= 0.01 * p99),
         bool_and(t50 IS NULL AND j->'ttft_p50_ms' IS NULL
                  OR abs((j->>'ttft_p50_ms')::float8 - t50) <= 0.01 * t50),
         (SELECT bool_and((rp.j->>'calls')::bigint = coalesce(ep.calls, 0)
                          AND abs((rp.j->>'sum_ms')::float8 - ep.sum_ms) <= 1e-9 * ep.sum_ms)
            FROM rp LEFT JOIN ep USING (b) WHERE ep.calls IS NOT NULL)
    FROM m
$$;

-- nothing written yet
SELECT count(*) AS rollups FROM performance_rollups;

SELECT pp_rollup() > 0 AS wrote;
-- every closed minute since the oldest row, and every closed hour, each
-- equal to the exact SQL over its rows
SELECT buckets >= 180 AS all_minutes, rows_checked >= 4 * 180 AS all_operations,
       counts_exact, sums_exact, min_max_exact, percentiles_within_1pct, ttft_within_1pct, profiles_exact
  FROM ru_check('minute');
SELECT buckets >= 3 AS all_hours, counts_exact, sums_exact, min_max_exact,
       percentiles_within_1pct, ttft_within_1pct, profiles_exact
  FROM ru_check('hour');
-- the rows were dated before the server started, so they were marked, and
-- the rollup cleared the marks it saw
SELECT count(*) AS marks FROM performance_rollup_stale;

-- an empty minute has its profiles row, with no calls
SELECT (pp_rollup_contents(data)->>'calls')::int AS calls
  FROM performance_rollups
 WHERE width = 'minute' AND kind = 'p' AND bucket_start = date_trunc('minute', now()) - interval '2 minutes';

-- a second call has nothing new to write but the minutes that closed meanwhile
SELECT pp_rollup() <= 2 * 5 AS little;

-- late rows: a profile dated in a written minute marks it ...
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('late', ru_node('rag', 42, jsonb_build_array(ru_node('search', 40000))),
        date_trunc('minute', now()) - interval '30 minutes' + interval '10 seconds');
SELECT bucket_start = date_trunc('minute', now()) - interval '30 minutes' AS marked
  FROM performance_rollup_stale;
-- ... the rollup of that minute is now behind the table ...
SELECT counts_exact FROM ru_check('minute');
-- ... and the next pp_rollup() writes it (and its hour) again
SELECT pp_rollup() > 0 AS wrote;
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT counts_exact, sums_exact, min_max_exact, percentiles_within_1pct FROM ru_check('minute');
SELECT counts_exact, sums_exact, min_max_exact, percentiles_within_1pct FROM ru_check('hour');

-- an update of a column no rollup holds marks nothing; of created_at, both minutes
UPDATE performance_profiles SET query_id = 'late-renamed' WHERE query_id = 'late';
SELECT count(*) AS marks FROM performance_rollup_stale;
UPDATE performance_profiles SET created_at = created_at - interval '1 hour' WHERE query_id = 'late-renamed';
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT pp_rollup() > 0 AS wrote;
SELECT counts_exact, sums_exact, min_max_exact, percentiles_within_1pct FROM ru_check('minute');

-- a delete marks its minute; with ppprof.rollup_keep (what pp_purge sets)
-- it does not, and the rollup keeps the deleted rows
DELETE FROM performance_profiles WHERE query_id = 'r-1';
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT pp_rollup() > 0 AS wrote;
SET ppprof.rollup_keep = on;
DELETE FROM performance_profiles WHERE query_id = 'r-2';
RESET ppprof.rollup_keep;
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT counts_exact FROM ru_check('minute');

-- a rolled-back change leaves no mark
BEGIN;
DELETE FROM performance_profiles WHERE query_id = 'r-3';
ROLLBACK;
SELECT count(*) AS marks FROM performance_rollup_stale;

-- pp_purge keeps the rollups of what it deletes: the table holds no row of
-- the first written hour any more, its rollup does
SELECT h AS oldest_hour FROM (SELECT min(bucket_start) AS h FROM performance_rollups WHERE width = 'hour') x \gset
SELECT deleted > 0 AS purged FROM pp_purge(now() - :'oldest_hour'::timestamptz - interval '1 hour')
 WHERE table_name = 'performance_profiles';
SELECT count(*) AS rows_left FROM performance_profiles
 WHERE created_at < :'oldest_hour'::timestamptz + interval '1 hour';
SELECT count(*) AS marks FROM performance_rollup_stale;
SELECT pp_rollup() >= 0 AS wrote;
SELECT (pp_rollup_contents(data)->>'calls')::int > 0 AS hour_kept
  FROM performance_rollups WHERE width = 'hour' AND kind = 'p' AND bucket_start = :'oldest_hour';

-- service_role reads rollups and cannot write them
SET ROLE service_role;
SELECT count(*) > 0 AS reads FROM performance_rollups;
SELECT pp_rollup();
INSERT INTO performance_rollup_stale (bucket_start) VALUES (now());
DELETE FROM performance_rollups;
RESET ROLE;

-- errors
SELECT pp_rollup_contents('\x00'::bytea);
SELECT pp_rollup_contents('\x0200'::bytea);
SELECT pp_rollup_contents(substr(data, 1, length(data) - 1))
  FROM performance_rollups WHERE kind = 'p' LIMIT 1;
SELECT pp_rollup_contents(data || '\x00'::bytea)
  FROM performance_rollups WHERE kind = 'p' LIMIT 1;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pp_rollup();
ROLLBACK;

-- TRUNCATE removes the rollups too
TRUNCATE performance_profiles;
SELECT (SELECT count(*) FROM performance_rollups) AS rollups,
       (SELECT count(*) FROM performance_rollup_stale) AS marks;

DROP VIEW ru_nodes;
DROP EXTENSION ppprof;
DROP ROLE service_role;
