-- partitions: performance_profiles partitioned by day (ppprof.partition_profiles,
-- pp_create_partitions): ingest through the parent, the statistics after
-- inserts, a cross-partition UPDATE, DELETE, DETACH, ATTACH and DROP of a
-- partition, pp_purge dropping whole partitions, pruning of a window's read

-- unpartitioned (the default): pp_create_partitions refuses and creates nothing
CREATE EXTENSION ppprof;
SELECT relkind FROM pg_class WHERE oid = 'performance_profiles'::regclass;
SELECT pp_create_partitions();
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass;
SELECT count(*) AS event_triggers FROM pg_event_trigger WHERE evtname = 'ppprof_partitions';
DROP EXTENSION ppprof;

SET ppprof.partition_profiles = on;
CREATE EXTENSION ppprof;
RESET ppprof.partition_profiles;
SELECT relkind, pg_get_partkeydef(oid) FROM pg_class WHERE oid = 'performance_profiles'::regclass;
SELECT pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid = 'performance_profiles'::regclass AND contype = 'p';
SELECT evtevent, evttags FROM pg_event_trigger WHERE evtname = 'ppprof_partitions';

-- bad arguments: nothing created
SELECT pp_create_partitions(-1);
SELECT pp_create_partitions(367);
SELECT pp_create_partitions(NULL);
SELECT pp_create_partitions(1, current_date + 30);
SELECT pp_create_partitions(1, current_date - 4000);
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass;

-- UTC days from three days ago to two days ahead; a second call adds nothing
SET TIME ZONE 'UTC';
SELECT count(*) AS created, bool_and(p ~ '^performance_profiles_p[0-9]{8}$') AS named,
       min(p) = 'performance_profiles_p' || to_char(current_date - 3, 'YYYYMMDD') AS first,
       max(p) = 'performance_profiles_p' || to_char(current_date + 2, 'YYYYMMDD') AS last
  FROM pp_create_partitions(2, current_date - 3) p;
SELECT count(*) AS created FROM pp_create_partitions(2, current_date - 3);
-- a day another partition covers is left alone
CREATE TABLE other_day PARTITION OF performance_profiles
  FOR VALUES FROM ((current_date + 3)::timestamptz) TO ((current_date + 4)::timestamptz);
SELECT count(*) AS created FROM pp_create_partitions(4);
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass;
DROP TABLE other_day;
-- the row triggers are cloned onto every partition
SELECT count(DISTINCT tgrelid) AS partitions, array_agg(DISTINCT tgname ORDER BY tgname) AS triggers
  FROM pg_trigger
 WHERE tgrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass);

CREATE FUNCTION node1(name text, ms float8, err text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'error', err) $$;
CREATE FUNCTION tree3(root_ms float8, a_ms float8, b_ms float8) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', 'rag', 'duration_ms', root_ms,
           'children', jsonb_build_array(node1('embed_query', a_ms), node1('vector_search', b_ms)))
$$;

-- the exact answer from the table, every node flattened (over partitions
-- without statistics, its recursive query is estimated high enough for
-- JIT, which takes a second each time)
SET jit = off;
CREATE VIEW exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT id, created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.id, nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT id, created_at, n->>'operation_name' AS operation, (n->>'duration_ms')::float8 AS d,
       jsonb_typeof(n->'error') = 'string' AS failed
  FROM nodes;
-- operations whose live calls, errors or total time differ from the exact
-- SQL over the last w, through pp_operation_stats and pp_range_stats (with
-- its row of profiles), and whether they are live (first_seen, last_seen,
-- min and max are not subtracted when rows go: docs/statistics.md)
CREATE FUNCTION stats_differ(w interval)
RETURNS TABLE (operation text, source text, live_calls bigint, exact_calls bigint,
               live_errors bigint, exact_errors bigint, live boolean)
LANGUAGE sql AS $$
  WITH e AS (SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors,
                    sum(d) AS total
               FROM exact_nodes WHERE created_at >= now() - w AND created_at <= now() GROUP BY 1),
       ep AS (SELECT count(*) AS calls FROM performance_profiles
               WHERE created_at >= now() - w AND created_at <= now()),
       s AS (SELECT 'window' AS source, operation, calls, errors, total_ms
               FROM pp_operation_stats(w)
             UNION ALL
             SELECT 'range', operation, calls, errors, total_ms
               FROM pp_range_stats(tstzrange(now() - w, now(), '[]')) WHERE operation IS NOT NULL),
       src(source) AS (VALUES ('window'), ('range'))
  SELECT coalesce(e.operation, s.operation), src.source, s.calls, e.calls, s.errors, e.errors,
         pp_info()->>'statistics' = 'valid'
    FROM src CROSS JOIN e
    FULL JOIN s ON s.operation = e.operation AND s.source = src.source
   WHERE s.calls IS DISTINCT FROM e.calls OR s.errors IS DISTINCT FROM e.errors
      OR abs(s.total_ms - e.total) > 1e-9 * e.total
  UNION ALL
  -- an empty range has no row of profiles
  SELECT NULL, 'range profiles', r.calls, ep.calls, NULL, NULL, pp_info()->>'statistics' = 'valid'
    FROM ep LEFT JOIN pp_range_stats(tstzrange(now() - w, now(), '[]')) r ON r.operation IS NULL
   WHERE coalesce(r.calls, 0) IS DISTINCT FROM ep.calls
$$;
-- no difference over three windows, and the statistics are live
CREATE FUNCTION stats_ok() RETURNS TABLE (same boolean, live text)
LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT FROM stats_differ('2 hours'))
     AND NOT EXISTS (SELECT FROM stats_differ('30 hours'))
     AND NOT EXISTS (SELECT FROM stats_differ('4 days')),
         pp_info()->>'statistics'
$$;
-- rows per partition, by day relative to today
CREATE VIEW placement AS
SELECT (regexp_match(tableoid::regclass::text, '[0-9]{8}$'))[1]::date - current_date AS day,
       count(*) AS n
  FROM performance_profiles GROUP BY 1 ORDER BY 1;

-- inserts through the parent, one per day, and the ingest functions
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('d3', tree3(900, 100, 700), date_trunc('day', now()) - interval '3 days' + interval '1 hour'),
  ('d2', tree3(800, 150, 600), date_trunc('day', now()) - interval '2 days' + interval '1 hour'),
  ('d1', tree3(500, 120, 350), date_trunc('day', now()) - interval '1 day' + interval '1 hour'),
  ('d1b', tree3(450, 20, 400), date_trunc('day', now()) - interval '1 day' + interval '2 hours'),
  ('d0', tree3(300, 100, 150), now());
SELECT pp_ingest(node1('vector_search', 40, 'timeout'), 'i1') IS NOT NULL AS stored;
SELECT pp_ingest_batch(jsonb_build_array(tree3(200, 50, 100), node1('llm_call', 3000)));
SELECT pp_ingest_jsonl(tree3(210, 60, 110)::text || E'\n' || node1('cache_lookup', 3)::text);
SELECT * FROM placement;
-- analysed on the partition as on a plain table
SELECT query_id, total_duration_ms, ppprof_analyzed,
       jsonb_array_length(bottleneck_operations) > 0 AS has_bottlenecks
  FROM performance_profiles WHERE query_id IN ('d3', 'd0', 'i1') ORDER BY 1;
SELECT * FROM stats_ok();

-- UPDATE moving a row to another partition, and one staying in its own
UPDATE performance_profiles SET created_at = now() WHERE query_id = 'd2';
UPDATE performance_profiles SET profile_data = tree3(600, 200, 300) WHERE query_id = 'd1';
SELECT * FROM placement;
SELECT query_id, total_duration_ms FROM performance_profiles WHERE query_id IN ('d1', 'd2') ORDER BY 1;
SELECT * FROM stats_ok();
-- moved with a new profile: analysed again on the way
UPDATE performance_profiles SET created_at = now(), profile_data = tree3(120, 10, 20), ppprof_analyzed = false
 WHERE query_id = 'd1b';
SELECT query_id, total_duration_ms, ppprof_analyzed, jsonb_array_length(bottleneck_operations) AS bottlenecks,
       (regexp_match(tableoid::regclass::text, '[0-9]{8}$'))[1]::date - current_date AS day
  FROM performance_profiles WHERE query_id = 'd1b';
SELECT * FROM stats_ok();
UPDATE performance_profiles SET created_at = date_trunc('day', now()) - interval '1 day' + interval '2 hours',
       profile_data = tree3(900, 100, 700), ppprof_analyzed = false
 WHERE query_id = 'd1b';
SELECT query_id, total_duration_ms, jsonb_array_length(bottleneck_operations) AS bottlenecks,
       (regexp_match(tableoid::regclass::text, '[0-9]{8}$'))[1]::date - current_date AS day
  FROM performance_profiles WHERE query_id = 'd1b';
SELECT * FROM stats_ok();
-- DELETE
DELETE FROM performance_profiles WHERE query_id = 'd1b';
SELECT * FROM stats_ok();

-- refused rows leave nothing: no partition for the day, an invalid profile
\set VERBOSITY terse
INSERT INTO performance_profiles (query_id, profile_data, created_at)
  VALUES ('old', tree3(1, 1, 1), now() - interval '20 days');
\set VERBOSITY default
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('bad', '{"duration_ms": 5}');
SELECT count(*) AS stored FROM performance_profiles WHERE query_id IN ('old', 'bad');
SELECT * FROM stats_ok();

-- a window's read prunes the partitions outside it (window.c's query)
PREPARE window_read(timestamptz, timestamptz) AS
  SELECT profile_data, total_duration_ms, created_at, id FROM performance_profiles
   WHERE created_at OPERATOR(pg_catalog.>=) $1 AND created_at OPERATOR(pg_catalog.<) $2;
CREATE FUNCTION scanned(a timestamptz, b timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  line text;
  n bigint := 0;
BEGIN
  FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) EXECUTE window_read(%L, %L)', a, b) LOOP
    IF line ~ ' on performance_profiles_p[0-9]{8}( |$)' THEN
      n := n + 1;
    END IF;
  END LOOP;
  RETURN n;
END;
$$;
SELECT scanned(date_trunc('day', now()), now()) AS today,
       scanned(date_trunc('day', now()) - interval '1 day', now()) AS two_days,
       scanned('-infinity', 'infinity') AS all_days;

-- DETACH: the rows leave the statistics (and mark their minutes, below);
-- ATTACH brings them back
SELECT format('performance_profiles_p%s', to_char(current_date - 1, 'YYYYMMDD')) AS day1 \gset
ALTER TABLE performance_profiles DETACH PARTITION :day1;
SELECT * FROM placement;
SELECT * FROM stats_ok();
SELECT count(*) AS detached_rows FROM :day1;
ALTER TABLE performance_profiles ATTACH PARTITION :day1
  FOR VALUES FROM (current_date - 1) TO (current_date);
SELECT * FROM placement;
SELECT * FROM stats_ok();

-- rollups: a partition detached, dropped or truncated marks the minutes
-- of its rows, as DELETE does, unless ppprof.rollup_keep is on (pp_purge
-- sets it: their rollups stay); attaching one marks the minutes of its
-- rows, so that pp_rollup() writes them again: here rows added while it
-- was detached, which no trigger saw
SELECT pp_rollup() > 0 AS rolled_up;
SET ppprof.rollup_keep = on;
ALTER TABLE performance_profiles DETACH PARTITION :day1;
RESET ppprof.rollup_keep;
SELECT count(*) AS marks_after_detach_kept FROM performance_rollup_stale;
INSERT INTO :day1 (query_id, profile_data, total_duration_ms, created_at) VALUES
  ('w1', tree3(400, 100, 250), 400, current_date - 1 + interval '3 hours'),
  ('w2', tree3(410, 110, 260), 410, current_date - 1 + interval '5 hours 30 minutes');
ALTER TABLE performance_profiles ATTACH PARTITION :day1
  FOR VALUES FROM (current_date - 1) TO (current_date);
SELECT (SELECT count(*) FROM performance_rollup_stale) AS marks,
       (SELECT count(DISTINCT date_trunc('minute', created_at)) FROM :day1) AS minutes_of_rows;
SELECT pp_rollup() > 0 AS rolled_up;
SELECT count(*) AS marks_left FROM performance_rollup_stale;
SELECT count(*) AS hours_differing
  FROM (SELECT date_trunc('hour', created_at) AS b, count(*) AS n FROM performance_profiles GROUP BY 1) t
  FULL JOIN (SELECT bucket_start AS b, (pp_rollup_contents(data)->>'calls')::bigint AS n
               FROM performance_rollups WHERE width = 'hour' AND kind = 'p'
                AND (pp_rollup_contents(data)->>'calls')::bigint > 0) r USING (b)
 WHERE t.n IS DISTINCT FROM r.n AND coalesce(t.b, r.b) < date_trunc('hour', now());
SELECT * FROM stats_ok();
DELETE FROM performance_profiles WHERE query_id IN ('w1', 'w2');
SELECT * FROM stats_ok();

-- DROP TABLE of a partition; rolled back, it changes nothing
SELECT format('performance_profiles_p%s', to_char(current_date - 3, 'YYYYMMDD')) AS day3 \gset
BEGIN;
DROP TABLE :day3;
-- until the commit, the statistics count the committed rows
SELECT * FROM stats_ok();
ROLLBACK;
SELECT * FROM placement;
SELECT * FROM stats_ok();
DROP TABLE :day3;
SELECT * FROM placement;
SELECT * FROM stats_ok();
-- a table that is no partition of performance_profiles is none of its business
CREATE TABLE unrelated (x int);
DROP TABLE unrelated;
SELECT * FROM stats_ok();

-- TRUNCATE of a partition: its rows leave the statistics (a role that may
-- not truncate it is refused by PostgreSQL, and nothing changes)
SELECT format('performance_profiles_p%s', to_char(current_date, 'YYYYMMDD')) AS day0 \gset
CREATE ROLE pp_partitions_reader;
SET ROLE pp_partitions_reader;
DO $$
BEGIN
  EXECUTE format('TRUNCATE performance_profiles_p%s', to_char(current_date, 'YYYYMMDD'));
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '[0-9]{8}', 'YYYYMMDD');
END;
$$;
RESET ROLE;
DROP ROLE pp_partitions_reader;
SELECT count(*) > 0 AS rows_today FROM :day0;
SELECT * FROM stats_ok();
BEGIN;
TRUNCATE :day0;
SELECT count(*) AS rows_today FROM :day0;
ROLLBACK;
SELECT * FROM stats_ok();
TRUNCATE :day0;
SELECT * FROM placement;
SELECT * FROM stats_ok();

-- with ppprof.enabled off, a dropped partition leaves the statistics
-- invalid (answers from the table) until pp_rebuild(), as any write does
SELECT format('performance_profiles_p%s', to_char(current_date + 4, 'YYYYMMDD')) AS day4 \gset
SET ppprof.enabled = off;
DROP TABLE :day4;
RESET ppprof.enabled;
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM stats_ok();
-- (from the rollups of the days left and the rows they lack)
SELECT pp_rebuild() < (SELECT count(*) FROM performance_profiles) AS rollups_loaded;
SELECT * FROM stats_ok();

-- at REPEATABLE READ the rows cannot be read in a snapshot taken after
-- the locks: the statistics are invalidated instead (a read rebuilds
-- them), even for tomorrow's empty partition
SELECT format('performance_profiles_p%s', to_char(current_date + 1, 'YYYYMMDD')) AS dayplus1 \gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
DROP TABLE :dayplus1;
COMMIT;
SELECT pp_info()->>'statistics' AS statistics;
SELECT pp_rebuild() < (SELECT count(*) FROM performance_profiles) AS rollups_loaded;
SELECT * FROM stats_ok();

-- pp_purge drops the partitions that end by the cutoff and deletes the
-- older rows of the others
SELECT format('performance_profiles_p%s', to_char(current_date - 2, 'YYYYMMDD')) AS day2 \gset
UPDATE performance_profiles SET created_at = now() - interval '1 day' + interval '1 minute'
 WHERE query_id = 'd1';
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('d2b', tree3(700, 300, 300), date_trunc('day', now()) - interval '2 days' + interval '3 hours'),
  ('d1c', tree3(650, 250, 300), now() - interval '1 day' - interval '1 minute');
SELECT count(*) AS older FROM performance_profiles WHERE created_at < now() - interval '1 day';
SELECT * FROM pp_purge('1 day') WHERE table_name = 'performance_profiles';
SELECT to_regclass(:'day2') IS NULL AS day2_dropped, to_regclass(:'day1') IS NOT NULL AS day1_kept;
SELECT count(*) AS partitions_ended FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'performance_profiles'::regclass
   AND c.relname < format('performance_profiles_p%s', to_char(now() - interval '1 day', 'YYYYMMDD'));
SELECT count(*) AS older FROM performance_profiles WHERE created_at < now() - interval '1 day';
SELECT * FROM stats_ok();

-- the rebuild reads every partition (without the rollups)
SET ppprof.rebuild_from_rollups = off;
SELECT pp_rebuild() = (SELECT count(*) FROM performance_profiles) AS all_read;
RESET ppprof.rebuild_from_rollups;
SELECT * FROM stats_ok();

-- TRUNCATE of the parent
TRUNCATE performance_profiles;
SELECT count(*) AS operations FROM pp_operation_stats('4 days');
SELECT * FROM stats_ok();

-- the event trigger's function refuses any other event, and the command
-- it refused leaves nothing
CREATE EVENT TRIGGER wrong_event ON ddl_command_end EXECUTE FUNCTION pp_profiles_partition_ddl();
CREATE TABLE refused (x int);
SELECT to_regclass('refused') IS NULL AS not_created;
DROP EVENT TRIGGER wrong_event;

DEALLOCATE window_read;
DROP FUNCTION stats_ok();
DROP FUNCTION stats_differ(interval);
DROP VIEW exact_nodes;
DROP VIEW placement;
DROP FUNCTION scanned(timestamptz, timestamptz);
DROP FUNCTION tree3(float8, float8, float8);
DROP FUNCTION node1(text, float8, text);
-- DROP EXTENSION drops the partitions with the table, as it drops a plain
-- table's rows
SELECT count(*) > 0 AS partitions FROM pg_inherits WHERE inhparent = 'performance_profiles'::regclass;
DROP EXTENSION ppprof;
SELECT count(*) AS left_behind FROM pg_class WHERE relname ~ '^performance_profiles';
RESET TIME ZONE;
RESET jit;
