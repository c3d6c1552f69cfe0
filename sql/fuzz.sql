-- fuzz: 3,000 mutated profiles (type swaps, deleted keys, odd numbers and
-- strings, deep nesting, wide arrays, broken JSON text).  Every one is
-- stored or refused with a 22xxx or 54xxx SQLSTATE, the server never
-- crashes, and the statistics equal the exact answer over what was stored.
-- The long run (100,000 cases, AddressSanitizer) is in docs/reliability.md.
CREATE EXTENSION ppprof;
\i test/gen/rag_profiles.sql
SELECT setseed(0.2718);

CREATE FUNCTION odd_value(r float8) RETURNS jsonb LANGUAGE sql AS $$
  SELECT (ARRAY['"str"', 'null', 'true', 'false', '[]', '{}', '[1, 2]', '{"a": null}',
                '1e308', '-1e308', '1e-320', '-0', '0', '-1', '1e9', '1000000000.5',
                '123456789012345678901234567890', '"𝄞 Ünïcødé \" \\\\ x"', '""',
                '"' || repeat('n', 300) || '"', '[{"operation_name": "x", "duration_ms": 1}]',
                '[{"operation_name": "x"}]', '[null]', '[[]]'])[1 + floor(r * 24)::int]::jsonb
$$;

CREATE FUNCTION mutate(i int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  p jsonb := ppgen.profile(i);
  keys text[] := ARRAY['operation_name', 'start_time', 'end_time', 'duration_ms',
                       'metadata', 'children', 'error', 'extra'];
  k text := keys[1 + floor(random() * 8)::int];
  child int := floor(random() * 6)::int;
  path text[];
  t text;
  kind int := floor(random() * 10)::int;
BEGIN
  path := CASE WHEN random() < 0.3 THEN ARRAY[k]
               WHEN random() < 0.5 THEN ARRAY['children', child::text, k]
               ELSE ARRAY['children', '2', 'children', (child % 3)::text, k] END;
  IF kind <= 4 THEN                      -- a value of another type or range
    p := jsonb_set(p, path, odd_value(random()), true);
  ELSIF kind = 5 THEN                    -- a deleted key
    p := p #- path;
  ELSIF kind = 6 THEN                    -- deep nesting, around the limit
    FOR d IN 1..(90 + floor(random() * 20)::int) LOOP
      p := jsonb_build_object('operation_name', 'n', 'duration_ms', 1, 'children', jsonb_build_array(p));
    END LOOP;
  ELSIF kind = 7 THEN                    -- wide arrays, around the limit
    p := jsonb_set(p, '{children}',
                   (SELECT jsonb_agg(jsonb_build_object('operation_name', 'w', 'duration_ms', g % 7))
                      FROM generate_series(1, 9990 + floor(random() * 20)::int) g));
  ELSIF kind = 8 THEN                    -- a node that is not an object
    p := jsonb_set(p, ARRAY['children', child::text], odd_value(random()), true);
  END IF;
  t := p::text;
  IF kind = 9 THEN                       -- broken JSON text
    t := overlay(t placing (ARRAY['"', '{', ']', ',', ':', 'x', '\u0000', '\ud800'])[1 + floor(random() * 8)::int]
                 from 1 + floor(random() * length(t))::int for floor(random() * 3)::int);
  END IF;
  RETURN t;
END;
$$;

CREATE FUNCTION try_ingest(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pp_ingest(t::jsonb, 'fuzz');
  RETURN 'stored';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END;
$$;

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
DROP EXTENSION ppprof;
