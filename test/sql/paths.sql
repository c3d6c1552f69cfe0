-- paths: statistics per call path (pp_path_stats, pp_range_path_stats,
-- pp_folded) equal an exact SQL walk of profile_data over the same rows,
-- for windows that cut buckets, after DELETE, UPDATE, ROLLBACK and
-- TRUNCATE, from shared memory and from the table alike; names with ';',
-- quotes, '<', unicode; a tree at the depth limit; the fold row beyond
-- ppprof.max_window_paths; refused paths beyond ppprof.max_paths (100 in
-- ppprof.conf)
CREATE EXTENSION ppprof;

-- pt_node(name, ms, children, error): one node
CREATE FUNCTION pt_node(name text, ms float8, kids jsonb DEFAULT '[]', err text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'children', kids, 'error', err)
$$;
-- a RAG request: rag -> (retrieval -> (embed, vector_search), llm), scaled
CREATE FUNCTION pt_rag(k int, leaf text DEFAULT 'vector_search') RETURNS jsonb LANGUAGE sql AS $$
  SELECT pt_node('rag', 100 + k, jsonb_build_array(
           pt_node('retrieval', 40 + k % 7, jsonb_build_array(pt_node('embed', 10 + k % 3),
                                                       pt_node(leaf, 20 + k % 5, '[]', CASE WHEN k % 4 = 0 THEN 'timeout' END))),
           pt_node('llm', 50 + k % 11)))
$$;

-- the exact answer: every node with its path, duration and self time
-- (duration minus the children's durations, never below 0)
CREATE VIEW pt_exact_paths AS
WITH RECURSIVE nodes AS (
  SELECT created_at, ARRAY[profile_data->>'operation_name'] AS path, profile_data AS n
    FROM performance_profiles
  UNION ALL
  SELECT nodes.created_at, nodes.path || (c->>'operation_name'), c
    FROM nodes, jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT created_at, path, (n->>'duration_ms')::float8 AS d,
       greatest(0, (n->>'duration_ms')::float8 -
                   coalesce((SELECT sum((c->>'duration_ms')::float8)
                               FROM jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array'
                                                              THEN n->'children' ELSE '[]' END) c), 0)) AS self,
       jsonb_typeof(n->'error') = 'string' AS failed
  FROM nodes;
-- the path as text: ';' between names; \, ;, newline and CR escaped
CREATE FUNCTION pt_path_text(p text[]) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(replace(replace(replace(replace(x, '\', '\\'), ';', '\;'), E'\n', '\n'), E'\r', '\r'), ';' ORDER BY i)
    FROM unnest(p) WITH ORDINALITY u(x, i)
$$;
CREATE FUNCTION pt_exact(t0 timestamptz, t1 timestamptz, open boolean)
RETURNS TABLE (path text[], calls bigint, errors bigint, total float8, self float8) LANGUAGE sql AS $$
  SELECT path, count(*), count(*) FILTER (WHERE failed), sum(d), sum(self)
    FROM pt_exact_paths
   WHERE created_at >= t0 AND (created_at < t1 OR (NOT open AND created_at = t1))
   GROUP BY path
$$;
-- rows of s that differ from the exact answer, and rows missing from s
CREATE FUNCTION pt_mismatches(t0 timestamptz, t1 timestamptz, open boolean, rows_ jsonb)
RETURNS bigint LANGUAGE sql AS $$
  WITH s AS (SELECT * FROM jsonb_to_recordset(rows_) AS x(path text, path_array text[], depth int,
               operation text, operation_type text, calls bigint, errors bigint,
               total_ms float8, self_ms float8, avg_ms float8)),
       e AS (SELECT * FROM pt_exact(t0, t1, open))
  SELECT count(*) FROM e FULL JOIN s ON s.path_array = e.path
   WHERE s.path_array IS NULL OR e.path IS NULL
      OR s.calls <> e.calls OR s.errors <> e.errors
      OR abs(s.total_ms - e.total) > 1e-9 * greatest(1, e.total)
      OR abs(s.self_ms - e.self) > 1e-9 * greatest(1, e.total)
      OR abs(s.avg_ms - e.total / e.calls) > 1e-9 * greatest(1, e.total)
      OR s.path <> pt_path_text(e.path) OR s.depth <> cardinality(e.path)
      OR s.operation <> e.path[cardinality(e.path)]
$$;
-- pp_path_stats(w) and pp_range_path_stats over a few ranges against the
-- exact answer: rows, mismatches, and whether the rows come in path_array order
CREATE FUNCTION pt_check_window(w interval) RETURNS TABLE (what text, n_rows bigint, wrong bigint, ordered boolean)
LANGUAGE sql AS $$
  SELECT 'window ' || w, count(*), pt_mismatches(now() - w, now(), false, jsonb_agg(to_jsonb(s) ORDER BY s.o)),
         bool_and(prev IS NULL OR prev < s.path_array)
    FROM (SELECT s.*, lag(s.path_array) OVER (ORDER BY s.o) AS prev
            FROM pp_path_stats(w) WITH ORDINALITY s(path, path_array, depth, operation, operation_type,
                                                    calls, errors, total_ms, self_ms, avg_ms, o)) s
  UNION ALL
  SELECT 'range [' || w || ', 7 min ago)', count(*),
         pt_mismatches(now() - w, now() - interval '7 minutes', true, jsonb_agg(to_jsonb(s) ORDER BY s.o)),
         bool_and(prev IS NULL OR prev < s.path_array)
    FROM (SELECT s.*, lag(s.path_array) OVER (ORDER BY s.o) AS prev
            FROM pp_range_path_stats(tstzrange(now() - w, now() - interval '7 minutes', '[)'))
                 WITH ORDINALITY s(path, path_array, depth, operation, operation_type,
                                   calls, errors, total_ms, self_ms, avg_ms, o)) s
$$;
CREATE FUNCTION pt_check_all() RETURNS TABLE (what text, n_rows bigint, wrong bigint, ordered boolean)
LANGUAGE sql AS $$
  SELECT c.* FROM unnest(ARRAY['17 minutes', '1 hour 29 minutes 30 seconds', '3 hours 10 minutes',
                               '5 hours', '2 days']::interval[]) w, pt_check_window(w) c
$$;

-- empty
SELECT * FROM pp_path_stats('1 hour');
SELECT pp_folded('1 hour') = '' AS folded_empty;

-- profiles every 7 minutes over the last 5 hours, some with another leaf,
-- and names that need care
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r' || k, pt_rag(k, CASE WHEN k % 5 = 0 THEN 'rerank;v2' ELSE 'vector_search' END),
       now() - k * interval '7 minutes' - k * interval '1.3 seconds'
  FROM generate_series(1, 42) k;
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('q1', pt_node('rag', 30, jsonb_build_array(pt_node('it''s "quoted"', 5), pt_node('<svg onload=x>', 6),
                                         pt_node('ünïcødé ✓', 7, jsonb_build_array(pt_node('a\b;c', 1))),
                                         pt_node(E'new\nline', 2))), now() - interval '3 minutes'),
  ('q2', pt_node('other_root', 12, jsonb_build_array(pt_node('llm', 9, '[]', 'boom'))), now() - interval '61 minutes');

SELECT pp_info()->>'statistics' AS statistics, (pp_info()->>'paths')::int AS paths,
       pp_info()->>'paths_incomplete_before' AS paths_incomplete_before;
SELECT * FROM pt_check_all();
SELECT path, path_array, depth, operation, operation_type, calls, errors
  FROM pp_path_stats('10 minutes');

-- DELETE, UPDATE (the tree, and the time), a rollback and a savepoint
DELETE FROM performance_profiles WHERE query_id IN ('r3', 'r10', 'r11');
UPDATE performance_profiles SET profile_data = pt_rag(1000, 'rerank;v2') WHERE query_id = 'r4';
UPDATE performance_profiles SET created_at = created_at - interval '50 minutes' WHERE query_id = 'r6';
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
  VALUES ('gone', pt_rag(1, 'rolled_back'), now() - interval '1 minute');
ROLLBACK;
BEGIN;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
  VALUES ('kept', pt_rag(2, 'kept_leaf'), now() - interval '2 minutes');
SAVEPOINT s;
DELETE FROM performance_profiles WHERE query_id = 'r1';
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('gone2', pt_rag(3, 'rolled_back'));
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM pt_check_all();
SELECT count(*) AS rolled_back_paths FROM pp_path_stats('1 day') WHERE 'rolled_back' = ANY (path_array);

-- from the table (statistics invalid after pp_reset): the same answers
CREATE TEMP TABLE live AS
SELECT w, s.* FROM unnest(ARRAY['17 minutes', '3 hours 10 minutes']::interval[]) w, pp_path_stats(w) s;
CREATE TEMP TABLE live_folded AS SELECT pp_folded('5 hours') AS f;
SELECT pp_reset();
SELECT pp_info()->>'statistics' AS statistics;
SELECT count(*) AS differing_rows FROM (
  (SELECT w, s.* FROM unnest(ARRAY['17 minutes', '3 hours 10 minutes']::interval[]) w, pp_path_stats(w) s
   EXCEPT SELECT * FROM live)
  UNION ALL
  (SELECT * FROM live
   EXCEPT SELECT w, s.* FROM unnest(ARRAY['17 minutes', '3 hours 10 minutes']::interval[]) w, pp_path_stats(w) s)) d;
SELECT pp_folded('5 hours') = f AS folded_same FROM live_folded;
SELECT * FROM pt_check_all();
SELECT pp_rebuild() > 0 AS rebuilt;
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM pt_check_all();

-- pp_folded: one line per path, "a;b;c <self us>", the sum is the self time
WITH l AS (SELECT line FROM regexp_split_to_table(rtrim(pp_folded('5 hours'), E'\n'), E'\n') line),
     p AS (SELECT left(line, length(line) - strpos(reverse(line), ' ')) AS path,
                  split_part(line, ' ', -1)::bigint AS us FROM l),
     s AS (SELECT * FROM pp_path_stats('5 hours'))
SELECT (SELECT count(*) FROM p) AS lines, (SELECT count(*) FROM s) AS paths,
       (SELECT count(*) FROM p JOIN s USING (path) WHERE p.us = round(s.self_ms * 1000)) AS lines_matching,
       abs((SELECT sum(us) FROM p) - (SELECT sum(self) * 1000 FROM pt_exact(now() - interval '5 hours', now(), false)))
         <= (SELECT count(*) FROM p) / 2.0 AS sum_is_self_time;
SELECT line FROM regexp_split_to_table(rtrim(pp_folded('4 minutes'), E'\n'), E'\n') line;

-- the fold row beyond ppprof.max_window_paths: calls still add up, the
-- other rows stay exact
SET ppprof.max_window_paths = 4;
SELECT path, path_array, depth, operation, operation_type, calls > 0 AS has_calls
  FROM pp_path_stats('5 hours') WHERE depth = 0;
SELECT count(*) FILTER (WHERE depth > 0) AS kept,
       sum(calls) = (SELECT count(*) FROM pt_exact_paths WHERE created_at >= now() - interval '5 hours') AS calls_add_up,
       abs(sum(self_ms) - (SELECT sum(self) FROM pt_exact_paths WHERE created_at >= now() - interval '5 hours')) < 1e-6 AS self_adds_up
  FROM pp_path_stats('5 hours');
SELECT count(*) AS kept_rows_wrong
  FROM pp_path_stats('5 hours') s JOIN pt_exact(now() - interval '5 hours', now(), false) e ON e.path = s.path_array
 WHERE s.calls <> e.calls OR abs(s.total_ms - e.total) > 1e-9 * e.total;
SELECT split_part(pp_folded('5 hours'), E'\n', 5) LIKE '(other) %' AS folded_other_line;
RESET ppprof.max_window_paths;

-- a tree at the depth limit (ppprof.max_depth = 100): a chain of 100
-- names, which fills the 100 path entries
TRUNCATE performance_profiles;
SELECT pp_info()->>'statistics' AS statistics, (pp_info()->>'paths')::int AS paths;
CREATE FUNCTION pt_chain(depth int, prefix text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  j jsonb := pt_node(prefix || depth, 1);
BEGIN
  FOR i IN REVERSE depth - 1 .. 1 LOOP
    j := pt_node(prefix || i, 1 + (j->>'duration_ms')::float8, jsonb_build_array(j));
  END LOOP;
  RETURN j;
END $$;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
  VALUES ('deep', pt_chain(100, 'd'), now() - interval '5 minutes'),
         ('deep2', pt_chain(100, 'd'), now() - interval '65 minutes');
SELECT (pp_info()->>'paths')::int AS paths, pp_info()->>'paths_incomplete_before' AS paths_incomplete_before;
SELECT max(depth) AS max_depth, count(*) AS n_paths, sum(calls) AS calls FROM pp_path_stats('2 hours');
SELECT * FROM pt_check_all();

-- beyond ppprof.max_paths: a new path is refused (its first sighting) or
-- evicts the least recently used; the path windows covering it read the
-- table and stay exact, the operations stay live
INSERT INTO performance_profiles (query_id, profile_data, created_at)
  VALUES ('wide', pt_rag(5, 'beyond'), now() - interval '2 minutes');
SELECT (pp_info()->>'paths_refused')::int + (pp_info()->>'paths_evicted')::int > 0 AS bound_reached,
       (pp_info()->>'paths')::int <= 100 AS within_bound,
       pp_info()->>'incomplete_before' AS operations_incomplete_before,
       pp_info()->>'paths_incomplete_before' IS NOT NULL AS paths_incomplete;
SELECT * FROM pt_check_all();
SELECT sum(calls) AS calls FROM pp_path_stats('1 hour');
-- seen a second time, a new path is admitted and evicts the least recently
-- used path (the deepest first among equals: the end of the chain): here
-- the root "rag" only, as the paths under it were never seen with an entry
-- to hang on; the answers stay exact
SELECT (pp_info()->>'paths_evicted')::int AS evicted_before \gset
INSERT INTO performance_profiles (query_id, profile_data, created_at)
  VALUES ('wide2', pt_rag(6, 'beyond'), now() - interval '1 minute');
SELECT (pp_info()->>'paths_evicted')::int - :evicted_before AS evicted,
       (pp_info()->>'paths')::int AS paths;
SELECT count(*) FILTER (WHERE 'beyond' = ANY (path_array)) AS beyond_paths, max(depth) AS max_depth
  FROM pp_path_stats('1 hour');
SELECT * FROM pt_check_all();

-- search_path: an operator of the caller's schema is never used
CREATE SCHEMA evil;
CREATE FUNCTION evil.ts_ge(timestamptz, timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'evil operator called'; END $$;
CREATE OPERATOR evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.ts_ge);
SET search_path = evil, public, pg_catalog;
SELECT count(*) AS rows_ FROM public.pp_path_stats('1 hour');
SELECT length(public.pp_folded('1 hour')) > 0 AS folded;
RESET search_path;

-- errors
SELECT * FROM pp_path_stats('-1 hour');
SELECT * FROM pp_range_path_stats('empty');
SELECT * FROM pp_range_path_stats(tstzrange(now(), NULL));
SELECT pp_folded('-1 second');

-- TRUNCATE empties them
TRUNCATE performance_profiles;
SELECT count(*) AS rows_after_truncate FROM pp_path_stats('1 day');

-- leave the database as found, for the tests after this one
RESET search_path;
DROP SCHEMA evil CASCADE;
DROP VIEW pt_exact_paths;
DROP FUNCTION pt_node, pt_rag, pt_path_text, pt_exact, pt_mismatches, pt_check_window, pt_check_all, pt_chain;
DROP EXTENSION ppprof;
