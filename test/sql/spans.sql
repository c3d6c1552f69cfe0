-- spans: pp_begin / pp_end / pp_time / pp_spans build one profile per tree,
-- across statements and transactions; aborts close what they opened
CREATE EXTENSION ppprof;

-- the shape of a stored profile, without its times: name, error, metadata,
-- then the children, recursively
CREATE FUNCTION span_shape(p jsonb) RETURNS text LANGUAGE sql AS $$
  SELECT (p->>'operation_name')
         || CASE WHEN p->>'error' IS NOT NULL THEN ' !' || (p->>'error') ELSE '' END
         || CASE WHEN p->'metadata' <> '{}' THEN ' ' || (p->'metadata')::text ELSE '' END
         || CASE WHEN jsonb_array_length(p->'children') > 0
                 THEN ' (' || (SELECT string_agg(span_shape(c), ', ' ORDER BY o)
                                 FROM jsonb_array_elements(p->'children') WITH ORDINALITY x(c, o)) || ')'
                 ELSE '' END
$$;
-- every node's times are consistent: end >= start, duration = end - start
-- (to the microsecond), children inside their parent
CREATE FUNCTION span_times_ok(p jsonb) RETURNS boolean LANGUAGE sql AS $$
  SELECT (p->>'end_time')::float8 >= (p->>'start_time')::float8
     AND abs((p->>'duration_ms')::float8 - ((p->>'end_time')::float8 - (p->>'start_time')::float8) * 1000) < 0.01
     AND coalesce((SELECT bool_and(span_times_ok(c)
                                   AND (c->>'start_time')::float8 >= (p->>'start_time')::float8 - 1e-6
                                   AND (c->>'end_time')::float8 <= (p->>'end_time')::float8 + 1e-6)
                     FROM jsonb_array_elements(p->'children') c), true)
$$;

-- a pipeline over several statements (each its own transaction)
SELECT pp_begin('rag_pipeline', '{"user": "u1"}', 'q-span-1') > 0 AS root;
SELECT pp_begin('embed_query') > 0;
SELECT pg_sleep(0.01);
SELECT pp_end();
SELECT pp_begin('retrieval') AS retrieval \gset
SELECT pp_time('vector_search', 'SELECT g FROM generate_series(1, 42) g') AS rows;
SELECT pp_begin('rerank', '{"top_k": 5}') > 0;
SELECT span, operation, depth, open, error FROM pp_spans() ORDER BY span;
-- ending retrieval ends rerank inside it too
SELECT pp_end(:retrieval) IS NULL AS not_root;
SELECT pp_begin('llm_generation') > 0;
SELECT pp_end(NULL, 'rate limited') IS NULL AS not_root;
SELECT pp_end() IS NOT NULL AS stored;
SELECT count(*) FROM pp_spans();
SELECT query_id, span_shape(profile_data), span_times_ok(profile_data),
       total_duration_ms > 10 AS took_the_sleep,
       (profile_data->'children'->0->>'duration_ms')::float8 >= 10 AS embed_slept
  FROM performance_profiles;
SELECT operation, calls, errors FROM pp_operation_stats('1 hour') ORDER BY operation;
TRUNCATE performance_profiles;

-- pp_time as a root stores at once; when its query fails the error goes on
-- and nothing is stored or left open
SELECT pp_time('standalone', 'SELECT 1') AS rows;
SELECT span_shape(profile_data) FROM performance_profiles;
SELECT pp_time('failing', 'SELECT 1 / 0');
SELECT count(*) AS spans_left FROM pp_spans();
SELECT count(*) AS profiles FROM performance_profiles;

-- inside a tree, a failing pp_time caught by PL/pgSQL: the span keeps the
-- error, the tree goes on
SELECT pp_begin('pipeline') > 0;
DO $$
BEGIN
  PERFORM pp_time('bad_step', 'SELECT 1 / 0');
EXCEPTION WHEN division_by_zero THEN
  PERFORM pp_time('fallback_step', 'SELECT 2');
END $$;
SELECT operation, depth, open, error FROM pp_spans() ORDER BY span;
SELECT pp_end() IS NOT NULL AS stored;
SELECT span_shape(profile_data) FROM performance_profiles;
TRUNCATE performance_profiles;

-- a transaction that aborts closes the spans it opened, marked; the root,
-- opened before, goes on
SELECT pp_begin('root') > 0;
BEGIN;
SELECT pp_begin('in_xact') > 0;
SELECT pp_begin('deeper') > 0;
ROLLBACK;
SELECT operation, open, error FROM pp_spans() ORDER BY span;
SELECT pp_begin('after') > 0;
SELECT pp_end() IS NULL, pp_end() IS NOT NULL;
SELECT span_shape(profile_data) FROM performance_profiles;
TRUNCATE performance_profiles;

-- a rolled-back savepoint closes what it opened; a released one keeps it
BEGIN;
SELECT pp_begin('root') > 0;
SAVEPOINT a;
SELECT pp_begin('kept') > 0;
RELEASE SAVEPOINT a;
SELECT pp_end() IS NULL;
SAVEPOINT b;
SELECT pp_begin('rolled_back') > 0;
ROLLBACK TO SAVEPOINT b;
SELECT pp_end() IS NOT NULL AS stored;
COMMIT;
SELECT span_shape(profile_data) FROM performance_profiles;
TRUNCATE performance_profiles;

-- a root opened in an aborted transaction is discarded with its tree
BEGIN;
SELECT pp_begin('doomed') > 0;
SELECT pp_begin('child') > 0;
ROLLBACK;
SELECT count(*) FROM pp_spans();
-- a profile written by pp_end goes with its transaction
BEGIN;
SELECT pp_begin('written_then_rolled_back') > 0;
SELECT pp_end() IS NOT NULL;
ROLLBACK;
SELECT count(*) AS profiles FROM performance_profiles;

-- errors: nothing open, unknown span, bad arguments, limits; none changes
-- the tree or stores anything
SELECT pp_end();
SELECT pp_begin('root') AS root \gset
SELECT pp_end(123456789);
SELECT pp_begin('');
SELECT pp_begin(NULL);
SELECT pp_begin('x', '[1, 2]');
SELECT pp_begin(repeat('x', 201));
SET ppprof.max_depth = 3;
SELECT pp_begin('d2') > 0, pp_begin('d3') > 0;
SELECT pp_begin('d4');
RESET ppprof.max_depth;
SELECT pp_time('t', NULL);
SELECT operation, depth, open FROM pp_spans() ORDER BY span;
SELECT pp_end(:root) IS NOT NULL AS stored;
SELECT span_shape(profile_data) FROM performance_profiles;
SELECT count(*) FROM pp_spans();

-- a session that ends with open spans stores nothing and leaves nothing
SELECT pp_begin('abandoned') > 0, pp_begin('abandoned_child') > 0;
SELECT count(*) AS profiles_before FROM performance_profiles;
\c
SELECT count(*) AS spans_in_new_session FROM pp_spans();
SELECT count(*) AS profiles_after FROM performance_profiles;

DROP FUNCTION span_shape, span_times_ok;
DROP EXTENSION ppprof;
