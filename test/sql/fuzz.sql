-- fuzz: 3,000 mutated profiles (type swaps, deleted keys, odd numbers and
-- strings, deep nesting, wide arrays, broken JSON text).  Every one is
-- stored or refused with a 22xxx or 54xxx SQLSTATE, the server never
-- crashes, and the statistics equal the exact answer over what was stored.
-- The long run is test/fuzz/server_fuzz.sh; results in docs/reliability.md.
CREATE EXTENSION ppprof;
\i test/gen/rag_profiles.sql
SELECT setseed(0.2718);

\i test/fuzz/mutate.sql

CREATE TEMP TABLE outcomes AS
SELECT g, try_ingest(mutate(g)) AS outcome FROM generate_series(1, 3000) g;

-- stored, or refused with a class 22 or 54 SQLSTATE: nothing else
SELECT count(*) AS cases,
       count(*) FILTER (WHERE outcome = 'stored') > 0 AS some_stored,
       count(*) FILTER (WHERE outcome LIKE '22%') > 0 AS some_22,
       count(*) FILTER (WHERE outcome LIKE '54%') > 0 AS some_54,
       count(*) FILTER (WHERE outcome NOT IN ('stored') AND outcome NOT LIKE '22%'
                          AND outcome NOT LIKE '54%') AS other_outcomes
  FROM outcomes;
SELECT outcome FROM outcomes
 WHERE outcome <> 'stored' AND outcome NOT LIKE '22%' AND outcome NOT LIKE '54%';
SELECT count(*) = (SELECT count(*) FROM outcomes WHERE outcome = 'stored') AS stored_rows_match
  FROM performance_profiles;

-- the statistics equal the exact answer over the stored rows
CREATE VIEW exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT n->>'operation_name' AS operation,
       coalesce((n->>'duration_ms')::float8, ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000) AS d,
       jsonb_typeof(n->'error') = 'string' AS failed
  FROM nodes WHERE created_at >= now() - interval '1 hour';
SELECT count(*) AS operations,
       count(*) FILTER (WHERE s.calls = e.calls AND s.errors = e.errors
                          AND abs(s.total_ms - e.total) <= 1e-9 * greatest(abs(e.total), 1)) AS exact
  FROM (SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors, sum(d) AS total
          FROM exact_nodes GROUP BY 1) e
  FULL JOIN pp_operation_stats('1 hour') s USING (operation);
SELECT pp_info()->>'statistics' AS statistics;

DROP VIEW exact_nodes;
DROP SCHEMA ppgen CASCADE;
-- its helpers too, so that a later test's try_ingest(jsonb) is not
-- outbid by try_ingest(text) for an untyped literal
DROP FUNCTION try_ingest(text), mutate(int);
DROP EXTENSION ppprof;
