-- stats: live per-operation statistics in shared memory, exact over any
-- window, only for committed rows, and equal to the table after DELETE,
-- UPDATE and TRUNCATE
CREATE EXTENSION ppprof;

-- p(name, ms): a one-node profile; t(...): a three-node tree
CREATE FUNCTION p(name text, ms float8, err text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'error', err) $$;
CREATE FUNCTION t(root_ms float8, a_ms float8, b_ms float8) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', 'rag', 'duration_ms', root_ms,
           'children', jsonb_build_array(p('embed_query', a_ms), p('vector_search', b_ms)))
$$;

-- exact answer from the table, for comparison: every node, flattened
CREATE VIEW exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT id, created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.id, nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT id, created_at, n->>'operation_name' AS operation,
       coalesce((n->>'duration_ms')::float8, ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000) AS d,
       jsonb_typeof(n->'error') = 'string' AS failed
  FROM nodes;
CREATE FUNCTION stats_match(w interval)
RETURNS TABLE (operation text, calls_ok boolean, errors_ok boolean, avg_ok boolean,
               seen_ok boolean, live boolean)
LANGUAGE sql AS $$
  WITH e AS (SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors, avg(d) AS avg_ms,
                    min(created_at) AS first_seen, max(created_at) AS last_seen
               FROM exact_nodes WHERE created_at >= now() - w AND created_at <= now() GROUP BY 1)
  SELECT coalesce(e.operation, s.operation), s.calls IS NOT DISTINCT FROM e.calls,
         s.errors IS NOT DISTINCT FROM e.errors,
         abs(s.avg_ms - e.avg_ms) <= 1e-9 * e.avg_ms,
         s.first_seen = e.first_seen AND s.last_seen = e.last_seen,
         pp_info()->>'statistics' = 'valid'
    FROM e FULL JOIN pp_operation_stats(w) s USING (operation) ORDER BY 1
$$;

-- empty
SELECT * FROM pp_operation_stats('1 hour');

INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('a', t(300, 100, 150), now() - interval '10 minutes'),
  ('b', t(500, 120, 350), now() - interval '20 minutes'),
  ('c', t(900, 130, 700), now() - interval '2 hours');
SELECT pp_ingest(p('vector_search', 40, 'timeout'), 'd') IS NOT NULL AS stored;

SELECT operation, operation_type, calls, errors, error_rate, avg_ms, min_ms, max_ms,
       round(p50_ms) AS p50, round(p99_ms) AS p99, total_ms, self_avg_ms, self_total_ms
  FROM pp_operation_stats('1 hour');
SELECT pp_info()->>'statistics' AS statistics, pp_info()->'operations' AS operations;
SELECT operation, calls, total_ms FROM pp_operation_stats('3 hours');
SELECT operation, calls, round(stddev_ms::numeric, 6) AS stddev FROM pp_operation_stats('1 day');
-- as SQL's stddev(), NULL for an operation called once
SELECT s.operation, s.calls, s.stddev_ms IS NULL AS stddev_null,
       (SELECT stddev(d) IS NULL FROM exact_nodes e
         WHERE e.operation = s.operation AND created_at >= now() - interval '15 minutes') AS sql_stddev_null
  FROM pp_operation_stats('15 minutes') s ORDER BY 1;
SELECT * FROM stats_match('15 minutes');

-- a rolled-back transaction adds nothing
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('rb', t(1, 1, 1));
ROLLBACK;
-- a rolled-back savepoint adds nothing; what was before it counts
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('sp1', p('cache_lookup', 5));
SAVEPOINT s1;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('sp2', p('cache_lookup', 7));
ROLLBACK TO SAVEPOINT s1;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('sp3', p('cache_lookup', 9));
COMMIT;
-- a plpgsql EXCEPTION block rolls back its part
DO $$
BEGIN
  BEGIN
    INSERT INTO performance_profiles (query_id, profile_data) VALUES ('ex1', p('cache_lookup', 11));
    RAISE EXCEPTION 'undo';
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  INSERT INTO performance_profiles (query_id, profile_data) VALUES ('ex2', p('cache_lookup', 13));
END;
$$;
-- ON CONFLICT DO NOTHING skips the row and its statistics
INSERT INTO performance_profiles (id, query_id, profile_data)
SELECT id, 'dup', p('cache_lookup', 1000) FROM performance_profiles WHERE query_id = 'sp1'
ON CONFLICT (id) DO NOTHING;
SELECT operation, calls, total_ms FROM pp_operation_stats('1 hour') WHERE operation = 'cache_lookup';
SELECT count(*), sum(total_duration_ms) FROM performance_profiles WHERE profile_data->>'operation_name' = 'cache_lookup';

-- DELETE and UPDATE keep the statistics equal to the table
DELETE FROM performance_profiles WHERE query_id = 'a';
UPDATE performance_profiles SET profile_data = t(600, 100, 450) WHERE query_id = 'b';
UPDATE performance_profiles SET created_at = now() - interval '5 hours' WHERE query_id = 'sp3';
SELECT operation, calls, total_ms FROM pp_operation_stats('1 hour') ORDER BY operation;
SELECT * FROM stats_match('1 hour');
SELECT * FROM stats_match('6 hours');

-- back-filled history: hour buckets beyond the last day, and beyond the
-- horizon (7 days) the table answers
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'old-' || g, t(200 + g, 50, 60 + g), now() - g * interval '7 hours'
  FROM generate_series(1, 30) g;
SELECT * FROM stats_match('2 days');
SELECT * FROM stats_match('6 days 23 hours');
SELECT * FROM stats_match('10 days');
SELECT * FROM stats_match('1000 years');

-- the reservoir: samples with their profile ids, slowest first
SELECT s.duration_ms, p.query_id
  FROM pp_operation_samples('vector_search') s JOIN performance_profiles p ON p.id = s.profile_id
 ORDER BY s.duration_ms DESC LIMIT 3;
SELECT count(*) FROM pp_operation_samples('no_such_operation');

-- TRUNCATE empties them
TRUNCATE performance_profiles;
SELECT * FROM pp_operation_stats('1000 years');
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('after', t(10, 2, 3));
SELECT operation, calls FROM pp_operation_stats('1 hour') ORDER BY 1;

-- pp_reset forgets them (the table answers meanwhile); pp_rebuild recomputes
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r-' || g, t(100 + g, 10, 20 + g), now() - g * interval '1 minute' FROM generate_series(1, 50) g;
SELECT pp_reset();
SELECT pp_info()->>'statistics' AS statistics;
SELECT operation, calls FROM pp_operation_stats('1 hour') ORDER BY 1;
SELECT pp_rebuild();
SELECT * FROM stats_match('1 hour');
SELECT * FROM stats_match('30 minutes');

-- a prepared transaction cannot be applied by this backend: the statistics
-- are invalidated (the table answers, and the first read starts a background
-- rebuild) until rebuilt
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('2pc', t(10, 2, 3));
PREPARE TRANSACTION 'pp_2pc';
COMMIT PREPARED 'pp_2pc';
SELECT pp_info()->>'statistics' AS statistics;
SELECT pp_rebuild();
SELECT * FROM stats_match('1 hour');

-- bad arguments
SELECT * FROM pp_operation_stats('-1 hour');
SELECT * FROM pp_operation_stats(NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pp_rebuild();
ROLLBACK;

DROP VIEW exact_nodes CASCADE;
DROP EXTENSION ppprof;
