-- cost: tokens, cost, model and time to first token read from metadata
-- through usage_keys (OpenTelemetry gen_ai, OpenInference, plain keys),
-- priced by model_prices at each row's created_at; bad values ignored and
-- counted, never an error
CREATE EXTENSION ppprof;

-- the seeded mapping, by field
SELECT usage_field, string_agg(metadata_key, ', ' ORDER BY priority, metadata_key) AS keys
  FROM usage_keys GROUP BY 1 ORDER BY 1;

-- a test model with two prices: the second from June on
INSERT INTO model_prices (model_pattern, valid_from, input_usd_per_million, output_usd_per_million) VALUES
    ('test-model', '2026-01-01 00:00+00', 1.00, 4.00),
    ('test-model', '2026-06-01 00:00+00', 0.50, 2.00),
    ('test-%', '-infinity', 100, 100);

-- cost_node(name, metadata): a node; the three dialects and the plain keys
CREATE FUNCTION cost_node(name text, meta jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT jsonb_build_object('operation_name', name, 'duration_ms', 10, 'metadata', meta) $$;
CREATE FUNCTION cost_dialects() RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', 'rag', 'duration_ms', 100, 'children', jsonb_build_array(
    cost_node('otel', '{"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "test-model",
                "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}'),
    cost_node('otel_deprecated', '{"gen_ai.request.model": "test-model",
                "gen_ai.usage.prompt_tokens": 300, "gen_ai.usage.completion_tokens": 30}'),
    cost_node('openinference', '{"llm.model_name": "test-model",
                "llm.token_count.prompt": 50, "llm.token_count.completion": 5,
                "llm.token_count.total": 55}'),
    cost_node('plain', '{"model": "test-model", "input_tokens": 7, "output_tokens": 3,
                "cost_usd": 0.25, "time_to_first_token_ms": 120.5}'),
    cost_node('no_usage', '{"cache": "hit"}'),
    cost_node('unpriced', '{"model": "nobody-knows", "input_tokens": 10}'),
    cost_node('pattern', '{"model": "test-other", "output_tokens": 10000}')))
$$;

-- before June: the January price; from June: the June price
SELECT node, operation_name, model, provider, input_tokens, output_tokens,
       total_tokens, cost_usd, cost_source, time_to_first_token_ms, ignored_values
  FROM pp_profile_usage(cost_dialects(), '2026-03-01 00:00+00') ORDER BY node;
SELECT operation_name, cost_usd
  FROM pp_profile_usage(cost_dialects(), '2026-07-01 00:00+00') ORDER BY node;
-- the same costs by plain SQL over the price table
SELECT u.operation_name, u.cost_usd = (u.input_tokens * p.input_usd_per_million
                                       + coalesce(u.output_tokens, 0) * p.output_usd_per_million) / 1e6 AS same
  FROM pp_profile_usage(cost_dialects(), '2026-07-01 00:00+00') u
  CROSS JOIN LATERAL (SELECT * FROM model_prices p
                       WHERE p.model_pattern = u.model AND p.valid_from <= '2026-07-01 00:00+00'
                       ORDER BY valid_from DESC LIMIT 1) p
 WHERE u.cost_source = 'model_prices' ORDER BY u.node;
-- before any row of test-model: the pattern test-% prices it
SELECT operation_name, cost_usd FROM pp_profile_usage(cost_dialects(), '2025-01-01 00:00+00')
 WHERE operation_name IN ('otel', 'pattern') ORDER BY node;
-- a seeded pattern: the one with the most literal characters wins
SELECT model, cost_usd FROM pp_profile_usage(cost_node('x', '{"model": "gpt-4o-mini-2024-07-18", "input_tokens": 1000000}'));

-- bad values are ignored and counted, a valid key of lower priority used
SELECT operation_name, model, input_tokens, output_tokens, cost_usd, cost_source,
       time_to_first_token_ms, ignored_values
  FROM pp_profile_usage(jsonb_build_object('operation_name', 'rag', 'duration_ms', 1, 'children', jsonb_build_array(
    cost_node('string', '{"gen_ai.usage.input_tokens": "12", "input_tokens": 12, "model": "test-model"}'),
    cost_node('negative', '{"input_tokens": -5, "output_tokens": 5, "model": "test-model"}'),
    cost_node('nan', '{"input_tokens": "NaN", "time_to_first_token_ms": "Infinity", "model": "test-model"}'),
    cost_node('huge', '{"input_tokens": 1e300, "cost_usd": 1e20, "output_tokens": 2, "model": "test-model"}'),
    cost_node('model', '{"gen_ai.response.model": 42, "model": "", "llm.model_name": "test-model", "input_tokens": 1}'),
    cost_node('bool', '{"cost_usd": true, "time_to_first_token_ms": [1]}'),
    cost_node('null', '{"cost_usd": null, "model": null, "input_tokens": 4}'))), '2026-07-01 00:00+00')
 ORDER BY node;

-- stored profiles: pp_info counts ignored values and unknown costs
SELECT (pp_info()->>'usage_values_ignored')::int AS ignored_before,
       (pp_info()->>'cost_unknown_nodes')::int AS unknown_before;
SELECT pp_ingest(cost_dialects(), 'q1') IS NOT NULL AS stored;
SELECT pp_ingest(cost_node('bad', '{"input_tokens": "many", "output_tokens": -1, "cost_usd": 1e300}'), 'q2') IS NOT NULL AS stored;
SELECT (pp_info()->>'usage_values_ignored')::int AS ignored,
       (pp_info()->>'cost_unknown_nodes')::int AS unknown;
SELECT count(*) AS profiles FROM performance_profiles;
-- docs/cost.md: cost per request by model over the last week
SELECT u.model,
       count(DISTINCT p.id) AS requests,
       sum(u.input_tokens) AS input_tokens,
       sum(u.output_tokens) AS output_tokens,
       sum(u.cost_usd) AS cost_usd,
       sum(u.cost_usd) / count(DISTINCT p.id) AS cost_per_request_usd,
       count(*) FILTER (WHERE u.cost_source = 'unknown') AS calls_without_price
  FROM performance_profiles p
 CROSS JOIN LATERAL pp_profile_usage(p.profile_data, p.created_at) u
 WHERE p.created_at >= now() - interval '7 days'
   AND u.cost_source IS NOT NULL        -- nodes with tokens or a cost
 GROUP BY u.model
 ORDER BY cost_usd DESC NULLS LAST;

-- the mapping is the user's: a new key takes effect at once
INSERT INTO usage_keys (metadata_key, usage_field) VALUES ('my.tokens.in', 'input_tokens');
SELECT input_tokens, cost_source FROM pp_profile_usage(cost_node('x', '{"my.tokens.in": 9}'));
-- inserting an existing key replaces it (pg_restore of an edited seed)
INSERT INTO usage_keys (metadata_key, usage_field, priority) VALUES ('my.tokens.in', 'output_tokens', 5);
SELECT usage_field, priority FROM usage_keys WHERE metadata_key = 'my.tokens.in';
SELECT output_tokens FROM pp_profile_usage(cost_node('x', '{"my.tokens.in": 9}'));
DELETE FROM usage_keys WHERE metadata_key = 'my.tokens.in';
SELECT count(*) AS rows FROM pp_profile_usage(cost_node('x', '{"my.tokens.in": 9}'));
-- a price change too
UPDATE model_prices SET input_usd_per_million = 3 WHERE model_pattern = 'test-model' AND valid_from = '2026-06-01 00:00+00';
SELECT cost_usd FROM pp_profile_usage(cost_node('x', '{"model": "test-model", "input_tokens": 1000000}'), '2026-07-01 00:00+00');

-- errors: nothing stored
\set VERBOSITY terse
INSERT INTO usage_keys (metadata_key, usage_field) VALUES ('k', 'latency');
INSERT INTO usage_keys (metadata_key, usage_field) VALUES ('', 'model');
INSERT INTO model_prices (model_pattern, input_usd_per_million, output_usd_per_million) VALUES ('m', -1, 0);
INSERT INTO model_prices (model_pattern, input_usd_per_million, output_usd_per_million) VALUES ('m', 1, 'infinity');
INSERT INTO model_prices (model_pattern, input_usd_per_million, output_usd_per_million) VALUES ('m', 'nan', 1);
SELECT count(*) AS keys FROM usage_keys WHERE metadata_key IN ('k', '');
SELECT count(*) AS prices FROM model_prices WHERE model_pattern = 'm';
SELECT * FROM pp_profile_usage('{"operation_name": ""}');
\set VERBOSITY default

-- immune to the caller's search_path
SET search_path = pg_catalog;
SELECT model, cost_usd FROM public.pp_profile_usage(public.cost_node('x', '{"model": "test-model", "input_tokens": 1000000}'), '2026-03-01 00:00+00');
RESET search_path;

-- the statistics: per operation and per profile, sums of tokens and cost
-- exact over any window, after deletes and updates, and equal from the
-- table (pp_reset) and live
TRUNCATE performance_profiles;
SELECT pp_info()->>'statistics' AS statistics;
CREATE FUNCTION cost_profile(g int, v int DEFAULT 0) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', 'rag', 'duration_ms', 100 + g, 'children',
    jsonb_build_array(
      cost_node('llm', CASE (g + v) % 3
        WHEN 0 THEN jsonb_build_object('gen_ai.response.model', 'test-model',
                      'gen_ai.usage.input_tokens', g * 7, 'gen_ai.usage.output_tokens', g * 3)
        WHEN 1 THEN jsonb_build_object('llm.model_name', CASE WHEN g % 11 = 0 THEN 'test-x' ELSE 'test-model' END,
                      'llm.token_count.prompt', g, 'llm.token_count.completion', g % 5)
        ELSE jsonb_build_object('model', 'test-model', 'input_tokens', g, 'output_tokens', 1,
                      'cost_usd', g * 0.000123, 'time_to_first_token_ms', g * 1.5) END),
      cost_node('embed', jsonb_build_object('model', 'text-embedding-3-small', 'input_tokens', 100 + g + v)),
      cost_node('bad', CASE WHEN g % 10 = 0 THEN '{"input_tokens": "x", "model": "nobody"}'::jsonb
                             ELSE jsonb_build_object('model', 'nobody', 'input_tokens', 2.4) END)))
$$;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'g' || g, cost_profile(g),
       CASE WHEN g % 7 = 0 THEN now() - interval '5 hours' - g * interval '1 second'
            ELSE now() - (g % 50) * interval '1 minute' END
  FROM generate_series(1, 300) g;

-- the exact answer in plain SQL, independent of the C code: the seeded
-- keys by priority, valid numbers only, prices at created_at
CREATE FUNCTION cost_num(m jsonb, k text) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(m->k) = 'number' AND (m->>k)::float8 BETWEEN 0 AND 1e12
              THEN round((m->>k)::float8) END
$$;
CREATE VIEW cost_exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT id, created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.id, nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c),
u AS (
  SELECT id, created_at, n->>'operation_name' AS operation, m,
         coalesce(cost_num(m, 'gen_ai.usage.input_tokens'), cost_num(m, 'gen_ai.usage.prompt_tokens'),
                  cost_num(m, 'llm.token_count.prompt'), cost_num(m, 'input_tokens')) AS input_tokens,
         coalesce(cost_num(m, 'gen_ai.usage.output_tokens'), cost_num(m, 'gen_ai.usage.completion_tokens'),
                  cost_num(m, 'llm.token_count.completion'), cost_num(m, 'output_tokens')) AS output_tokens,
         CASE WHEN jsonb_typeof(m->'cost_usd') = 'number' AND (m->>'cost_usd')::float8 BETWEEN 0 AND 1e6
              THEN (m->>'cost_usd')::float8 END AS cost_usd,
         coalesce(m->>'gen_ai.response.model', m->>'gen_ai.request.model', m->>'llm.model_name', m->>'model') AS model,
         CASE WHEN jsonb_typeof(m->'time_to_first_token_ms') = 'number'
                   AND (m->>'time_to_first_token_ms')::float8 BETWEEN 0 AND 1e9
              THEN (m->>'time_to_first_token_ms')::float8 END AS ttft_ms
    FROM nodes, LATERAL (SELECT coalesce(n->'metadata', '{}') AS m) x)
SELECT u.id, u.created_at, u.operation, u.input_tokens, u.output_tokens, u.ttft_ms,
       CASE WHEN u.cost_usd IS NOT NULL THEN round(u.cost_usd * 1e9)
            WHEN p.input_usd_per_million IS NOT NULL
            THEN round((coalesce(u.input_tokens, 0) * p.input_usd_per_million
                        + coalesce(u.output_tokens, 0) * p.output_usd_per_million) / 1e6 * 1e9) END AS cost_nusd
  FROM u LEFT JOIN LATERAL (
         SELECT * FROM model_prices p
          WHERE (u.input_tokens IS NOT NULL OR u.output_tokens IS NOT NULL)
            AND u.model LIKE p.model_pattern AND p.valid_from <= u.created_at
          ORDER BY p.model_pattern !~ '[%_\\]' DESC,
                   length(regexp_replace(p.model_pattern, '[%_]', '', 'g')) DESC,
                   p.valid_from DESC LIMIT 1) p ON true;
CREATE FUNCTION cost_match(w interval)
RETURNS TABLE (operation text, calls_ok boolean, input_ok boolean, output_ok boolean,
               cost_ok boolean, ttft_ok boolean)
LANGUAGE sql AS $$
  WITH e AS (SELECT operation, count(*) AS calls, sum(coalesce(input_tokens, 0))::bigint AS input_tokens,
                    sum(coalesce(output_tokens, 0))::bigint AS output_tokens,
                    sum(coalesce(cost_nusd, 0))::bigint::float8 / 1e9 AS cost_usd,
                    percentile_disc(0.5) WITHIN GROUP (ORDER BY ttft_ms) AS ttft_p50,
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS ttft_p95
               FROM cost_exact_nodes WHERE created_at >= now() - w AND created_at <= now()
              GROUP BY ROLLUP (operation))
  SELECT coalesce(s.operation, e.operation), s.calls = e.calls OR s.operation IS NULL,
         s.input_tokens = e.input_tokens, s.output_tokens = e.output_tokens, s.cost_usd = e.cost_usd,
         CASE WHEN s.operation IS NULL THEN s.ttft_p50_ms IS NULL
              WHEN e.ttft_p50 IS NULL THEN s.ttft_p50_ms IS NULL AND s.ttft_p95_ms IS NULL
              ELSE abs(s.ttft_p50_ms - e.ttft_p50) <= 0.01 * e.ttft_p50
                   AND abs(s.ttft_p95_ms - e.ttft_p95) <= 0.01 * e.ttft_p95 END
    FROM e FULL JOIN pp_range_stats(tstzrange(now() - w, now(), '[]')) s
         ON coalesce(s.operation, '(profiles)') = coalesce(e.operation, '(profiles)')
   ORDER BY 1 NULLS FIRST
$$;
SELECT * FROM cost_match('1 hour');
SELECT * FROM cost_match('1 day');
SELECT pp_info()->>'statistics' AS statistics;
-- the values themselves, for the record
SELECT operation, calls, input_tokens, output_tokens, round(cost_usd::numeric, 9) AS cost_usd,
       ttft_p50_ms IS NOT NULL AS has_ttft
  FROM pp_operation_stats('1 day') ORDER BY operation;

-- deletes and updates subtract exactly
DELETE FROM performance_profiles WHERE query_id IN (SELECT 'g' || g FROM generate_series(1, 300, 4) g);
UPDATE performance_profiles SET profile_data = cost_profile(substr(query_id, 2)::int, 1)
 WHERE query_id IN (SELECT 'g' || g FROM generate_series(2, 300, 5) g);
SELECT * FROM cost_match('1 day');
SELECT pp_info()->>'statistics' AS statistics;
CREATE TEMP TABLE cost_live AS SELECT * FROM pp_range_stats(tstzrange(now() - interval '1 day', now()));

-- the table fallback gives the same answer
SELECT pp_reset();
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM cost_match('1 day');
SELECT count(*) AS differ FROM (
  (SELECT operation, calls, input_tokens, output_tokens, cost_usd FROM cost_live
   EXCEPT SELECT operation, calls, input_tokens, output_tokens, cost_usd
            FROM pp_range_stats(tstzrange(now() - interval '1 day', now())))
  UNION ALL
  (SELECT operation, calls, input_tokens, output_tokens, cost_usd
     FROM pp_range_stats(tstzrange(now() - interval '1 day', now()))
   EXCEPT SELECT operation, calls, input_tokens, output_tokens, cost_usd FROM cost_live)) d;
SELECT pp_rebuild();
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM cost_match('1 day');

-- a price change makes the statistics answer from the table with the new
-- price until they are rebuilt with it
INSERT INTO model_prices (model_pattern, valid_from, input_usd_per_million, output_usd_per_million)
VALUES ('text-embedding-3-small', now() - interval '30 minutes', 7, 0);
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM cost_match('1 day');
SELECT pp_rebuild();
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM cost_match('1 day');
-- the report's summary: tokens, total cost and cost per profile, exact
WITH e AS (SELECT sum(coalesce(input_tokens, 0))::bigint AS input_tokens,
                  sum(coalesce(output_tokens, 0))::bigint AS output_tokens,
                  sum(coalesce(cost_nusd, 0))::numeric AS nusd, count(DISTINCT id) AS profiles
             FROM cost_exact_nodes WHERE created_at >= now() - interval '1 day' AND created_at <= now()),
     r AS (SELECT pp_optimization_report('1 day')->'summary' AS s)
SELECT (s->>'total_profiled_queries')::bigint = profiles AS profiles_ok,
       (s->>'input_tokens')::bigint = input_tokens AS input_ok,
       (s->>'output_tokens')::bigint = output_tokens AS output_ok,
       (s->>'total_cost_usd')::numeric = nusd / 1e9 AS total_ok,
       (s->>'cost_per_profile_usd')::numeric = round(nusd / profiles) / 1e9 AS per_profile_ok,
       s->>'source' AS source
  FROM e, r;
-- rolled back: the statistics stay valid
BEGIN;
DELETE FROM model_prices WHERE model_pattern = 'text-embedding-3-small';
ROLLBACK;
SELECT pp_info()->>'statistics' AS statistics;

-- the report ranks by time or by cost: vector_search takes the time,
-- llm_generation the money
TRUNCATE performance_profiles;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 7200, 'children', jsonb_build_array(
         jsonb_build_object('operation_name', 'vector_search', 'duration_ms', 5000),
         cost_node('llm_generation', '{"model": "test-model", "input_tokens": 1000, "cost_usd": 0.01}')
           || '{"duration_ms": 2100}')),
       now() - g * interval '1 minute'
  FROM generate_series(1, 20) g;
SELECT r->'summary'->>'ranked_by' AS ranked_by,
       jsonb_path_query_array(r->'top_bottlenecks', '$[*].operation') AS bottlenecks,
       jsonb_path_query_array(r->'top_bottlenecks', '$[*].cost_usd') AS cost_usd,
       r->'optimization_priorities'->0->>'suggestion' AS first_priority
  FROM pp_optimization_report('1 hour') r;
SELECT r->'summary'->>'ranked_by' AS ranked_by,
       jsonb_path_query_array(r->'top_bottlenecks', '$[*].operation') AS bottlenecks,
       r->'optimization_priorities'->0->>'suggestion' AS first_priority,
       r->'optimization_priorities'->0->'expected_improvement'->>'cost_usd_per_profile' AS saves_usd_per_profile
  FROM pp_optimization_report('1 hour', rank_by => 'cost') r;
\set VERBOSITY terse
SELECT pp_optimization_report('1 hour', rank_by => 'money');
\set VERBOSITY default

-- a bucket takes sketch memory for times to first token only with the
-- first one, and gives it back with the last (a minute and an hour bucket:
-- two blocks of 80 bytes; the profile's row and the node take two each,
-- and the node's entries of the seeded dimensions an hour bucket each,
-- which never has times to first token)
TRUNCATE performance_profiles;
CREATE FUNCTION cost_sketch_bytes() RETURNS bigint
LANGUAGE sql AS $$ SELECT (pp_info()->>'sketch_memory_used_bytes')::bigint $$;
SELECT cost_sketch_bytes() AS before \gset
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('n1', cost_node('t_op', '{}'));
SELECT cost_sketch_bytes() - :before AS without_ttft;
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('y1', cost_node('t_op', '{"time_to_first_token_ms": 5}'));
SELECT cost_sketch_bytes() - :before AS with_ttft;
SELECT round(ttft_p50_ms::numeric, 2) AS ttft_p50_ms FROM pp_operation_stats('1 hour') WHERE operation = 't_op';
DELETE FROM performance_profiles WHERE query_id = 'y1';
SELECT cost_sketch_bytes() - :before AS after_delete;
SELECT calls, ttft_p50_ms FROM pp_operation_stats('1 hour') WHERE operation = 't_op';
DROP FUNCTION cost_sketch_bytes();

DROP FUNCTION cost_match(interval);
DROP VIEW cost_exact_nodes;
DROP FUNCTION cost_num(jsonb, text);
DROP FUNCTION cost_profile(int, int);
DROP FUNCTION cost_dialects();
DROP FUNCTION cost_node(text, jsonb);
DROP EXTENSION ppprof;
