-- test/fuzz/mutate.sql -- the profile mutator of the SQL fuzz runs.
--   odd_value(r)     an odd JSON value picked by r in [0, 1)
--   mutate(i)        profile i of test/gen/rag_profiles.sql with one
--                    mutation (type swap, deleted key, deep nesting, wide
--                    array, non-object node, broken JSON text) drawn from
--                    random(): set the seed first for a repeatable run
--   try_ingest(t)    'stored', or the SQLSTATE pp_ingest raised
-- Used by test/sql/fuzz.sql (3,000 cases in make test) and test/fuzz/server_fuzz.sh
-- (the long run).  Needs test/gen/rag_profiles.sql.

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

