-- dimensions: pp_dimension_stats (statistics per operation and value of a
-- metadata key declared in operation_dimensions) equals an exact SQL walk
-- of profile_data over the same rows: counts and sums exact, percentiles
-- within 1% of percentile_disc; the value inherited from the nearest
-- ancestor; windows that cut buckets, DELETE and UPDATE; tokens and cost;
-- the fold row beyond ppprof.max_dimension_values; a change of the declared
-- dimensions; hostile values; the answer after pp_reset(); pp_compare_values
-- between two values of one dimension
CREATE EXTENSION ppprof;

-- dm_node(name, ms, metadata, children, error): one node
CREATE FUNCTION dm_node(name text, ms float8, meta jsonb DEFAULT NULL, kids jsonb DEFAULT '[]', err text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('operation_name', name, 'duration_ms', ms, 'metadata', meta,
                            'children', kids, 'error', err)
$$;
-- a RAG request: the release on the root, the model on the llm node
CREATE FUNCTION dm_rag(k int) RETURNS jsonb LANGUAGE sql AS $$
  SELECT dm_node('rag', 100 + k, jsonb_build_object('release', 'r' || (k % 3), 'prompt', jsonb_build_object('version', k % 2)),
           jsonb_build_array(
             dm_node('retrieval', 40 + k % 7, NULL, jsonb_build_array(dm_node('embed', 10 + k % 3))),
             dm_node('llm', 50 + k % 11 + k / 10.0, jsonb_build_object('model', CASE WHEN k % 4 = 0 THEN 'small' ELSE 'large' END),
                     '[]', CASE WHEN k % 6 = 0 THEN 'timeout' END)))
$$;

-- the first 200 bytes of t, cut at a character boundary
CREATE FUNCTION dm_cut(t text) RETURNS text LANGUAGE sql AS $$
  SELECT left(t, (SELECT max(n) FROM generate_series(0, length(t)) n WHERE octet_length(left(t, n)) <= 200)::int)
$$;
-- a node's own value of a dimension: at its key path (a JSON null counts
-- as absent; a string is its text, anything else its jsonb text), or the
-- model or provider pp_profile_usage reads in its metadata
CREATE FUNCTION dm_own(n jsonb, at timestamptz, dim text) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN d.usage_field IS NULL
              THEN CASE jsonb_typeof(n->'metadata' #> d.key_path)
                     WHEN 'null' THEN NULL
                     WHEN 'string' THEN n->'metadata' #> d.key_path #>> '{}'
                     ELSE (n->'metadata' #> d.key_path)::text END
              WHEN d.usage_field = 'model' THEN (SELECT u.model FROM pp_profile_usage(n - 'children', at) u)
              ELSE (SELECT u.provider FROM pp_profile_usage(n - 'children', at) u) END
    FROM operation_dimensions d WHERE d.name = dim
$$;
-- the exact answer: every node with its own metadata, its value inherited
-- from the nearest ancestor that has one, and its own usage as
-- pp_profile_usage reads it (cost in nano-USD)
CREATE FUNCTION dm_exact_nodes(dim text)
RETURNS TABLE (created_at timestamptz, op text, value text, d float8, failed boolean,
               in_tok bigint, out_tok bigint, cost_nusd bigint) LANGUAGE sql AS $$
  WITH RECURSIVE nodes AS (
    SELECT p.created_at, p.profile_data AS n, dm_own(p.profile_data, p.created_at, dim) AS v
      FROM performance_profiles p
    UNION ALL
    SELECT nodes.created_at, c, coalesce(dm_own(c, nodes.created_at, dim), nodes.v)
      FROM nodes, jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
  SELECT created_at, n->>'operation_name', dm_cut(v),
         (n->>'duration_ms')::float8, jsonb_typeof(n->'error') = 'string',
         coalesce(u.input_tokens, 0)::bigint, coalesce(u.output_tokens, 0)::bigint,
         coalesce(round(u.cost_usd * 1e9), 0)::bigint
    FROM nodes LEFT JOIN LATERAL pp_profile_usage(n - 'children', nodes.created_at) u ON true
$$;
CREATE FUNCTION dm_exact(dim text, r tstzrange)
RETURNS TABLE (op text, value text, calls bigint, errors bigint, total float8,
               p50 float8, p95 float8, p99 float8, in_tok numeric, out_tok numeric,
               cost_nusd numeric) LANGUAGE sql AS $$
  SELECT op, value, count(*), count(*) FILTER (WHERE failed), sum(d),
         percentile_disc(0.5) WITHIN GROUP (ORDER BY d),
         percentile_disc(0.95) WITHIN GROUP (ORDER BY d),
         percentile_disc(0.99) WITHIN GROUP (ORDER BY d),
         sum(in_tok), sum(out_tok), sum(cost_nusd)
    FROM dm_exact_nodes(dim)
   WHERE created_at <@ r
   GROUP BY op, value
$$;
-- rows (pp_dimension_stats' as jsonb) that differ from the exact answer over
-- r, and rows missing on either side (no value beyond the bound: no fold row)
CREATE FUNCTION dm_mismatches_rows(r tstzrange, dim text, rows_ jsonb) RETURNS bigint LANGUAGE sql AS $$
  WITH s AS (SELECT * FROM jsonb_to_recordset(coalesce(rows_, '[]')) AS x(operation text, dimension_value text,
               folded boolean, calls bigint, errors bigint, error_rate float8, avg_ms float8,
               p50_ms float8, p95_ms float8, p99_ms float8, total_ms float8,
               input_tokens bigint, output_tokens bigint, cost_usd float8)),
       e AS (SELECT * FROM dm_exact(dim, r))
  SELECT count(*) FROM e FULL JOIN s ON s.operation = e.op AND s.dimension_value IS NOT DISTINCT FROM e.value
   WHERE s.operation IS NULL OR e.op IS NULL OR s.folded
      OR s.calls <> e.calls OR s.errors <> e.errors
      OR abs(s.total_ms - e.total) > 1e-9 * greatest(1, e.total)
      OR abs(s.avg_ms - e.total / e.calls) > 1e-9 * greatest(1, e.total)
      OR abs(s.error_rate - e.errors::float8 / e.calls) > 1e-12
      OR abs(s.p50_ms - e.p50) > 0.01 * e.p50
      OR abs(s.p95_ms - e.p95) > 0.01 * e.p95
      OR abs(s.p99_ms - e.p99) > 0.01 * e.p99
      OR s.input_tokens <> e.in_tok OR s.output_tokens <> e.out_tok
      OR round(s.cost_usd * 1e9) <> e.cost_nusd
$$;
CREATE FUNCTION dm_mismatches(w interval, dim text) RETURNS bigint LANGUAGE sql AS $$
  SELECT dm_mismatches_rows(tstzrange(now() - w, now(), '[]'), dim,
                            (SELECT jsonb_agg(s) FROM pp_dimension_stats(w, dim) s))
$$;
-- (whether a window has rows, not how many: the short windows lose rows as
-- the test runs)
CREATE FUNCTION dm_check(dim text) RETURNS TABLE (w interval, has_rows boolean, wrong bigint) LANGUAGE sql AS $$
  SELECT w, EXISTS (SELECT FROM pp_dimension_stats(w, dim)), dm_mismatches(w, dim)
    FROM unnest(ARRAY[interval '5 minutes', '17 minutes', '2 hours', '5 hours', '2 days']) w
$$;

-- 300 requests spread over the last 3 hours and 20 minutes (every 40 s),
-- so that windows cut minute and hour buckets
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r' || k, dm_rag(k), now() - k * interval '40 seconds' FROM generate_series(1, 300) k;

-- 40 requests 30 hours ago whose llm node reports usage under the plain
-- keys: tokens always, an explicit cost_usd on every fourth, else priced by
-- model_prices at created_at ('large' changes price 29 h 40 min ago, so
-- that the requests straddle it) or unknown ('small' and 'tiny' have none)
INSERT INTO model_prices (model_pattern, valid_from, input_usd_per_million, output_usd_per_million) VALUES
  ('large', now() - interval '3 days', 3.00, 15.00),
  ('large', now() - interval '29 hours 40 minutes', 2.50, 10.00);
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'u' || k,
       dm_node('rag', 200, jsonb_build_object('release', 'r' || (k % 3)),
               jsonb_build_array(dm_node('llm', 80 + k,
                 jsonb_build_object('model', (ARRAY['large', 'small', 'tiny'])[k % 3 + 1],
                                    'input_tokens', 1000 + 17 * k, 'output_tokens', 100 + k)
                 || CASE WHEN k % 4 = 0 THEN jsonb_build_object('cost_usd', 0.0001 * k) ELSE '{}' END))),
       now() - interval '30 hours' + k * interval '1 minute'
  FROM generate_series(1, 40) k;

SELECT name, key_path, usage_field FROM operation_dimensions ORDER BY name;
SELECT * FROM dm_check('model');
SELECT * FROM dm_check('release');
-- shared memory holds one entry per (live dimension, value, operation) of
-- the rows, so the windows above were answered from it (their edges from
-- the table)
CREATE FUNCTION dm_entries() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum((SELECT count(*) FROM (SELECT DISTINCT value, op FROM dm_exact_nodes(d.name)) x))
    FROM (SELECT name FROM operation_dimensions ORDER BY name COLLATE "C" LIMIT 8) d
$$;
SELECT pp_info()->>'statistics' AS statistics,
       (pp_info()->>'dimension_entries')::bigint = dm_entries() AS one_entry_each,
       pp_info()->>'dimensions_incomplete_before' AS incomplete_before;
-- whether the checks that follow read shared memory (windows of a whole
-- hour or more; the shorter ones read the table)
CREATE FUNCTION dm_live() RETURNS TABLE (statistics text, incomplete_before text) LANGUAGE sql AS $$
  SELECT pp_info()->>'statistics', pp_info()->>'dimensions_incomplete_before'
$$;

-- pp_range_dimension_stats: ranges whose bounds fall on rows (r100 and
-- r20), inclusive or exclusive
SELECT b, (SELECT count(*) FROM pp_range_dimension_stats(r, 'release')) AS n_rows,
       (SELECT sum(calls) FROM pp_range_dimension_stats(r, 'release')) AS calls,
       dm_mismatches_rows(r, 'release', (SELECT jsonb_agg(s) FROM pp_range_dimension_stats(r, 'release') s)) AS wrong
  FROM unnest(ARRAY['[)', '[]', '(]', '()']) b,
       LATERAL (SELECT tstzrange((SELECT created_at FROM performance_profiles WHERE query_id = 'r100'),
                                 (SELECT created_at FROM performance_profiles WHERE query_id = 'r20'), b) AS r) x
 ORDER BY 1;

-- tokens and cost per value: exact sums (the checks above compare them
-- with pp_profile_usage's per node); unknown costs count for nothing
SELECT operation, dimension_value, calls, input_tokens, output_tokens, round(cost_usd::numeric, 6) AS cost_usd
  FROM pp_range_dimension_stats(tstzrange(now() - interval '31 hours', now() - interval '29 hours'), 'model')
 ORDER BY 1, 2;

-- inheritance: the model is on llm only, so every other node has none
-- (NULL); the release is on the root, so every node has one
SELECT operation, dimension_value, calls FROM pp_dimension_stats('1 day', 'model') ORDER BY 1, 2;
SELECT operation, dimension_value, calls FROM pp_dimension_stats('1 day', 'release')
 WHERE operation IN ('embed', 'rag') ORDER BY 1, 2;
-- the rows' calls add up to the window's nodes
SELECT (SELECT sum(calls) FROM pp_dimension_stats('1 day', 'release')) =
       (SELECT count(*) FROM dm_exact_nodes('release') WHERE created_at >= now() - interval '1 day') AS all_nodes;

-- a key path into nested metadata, and a number value (0 and 1)
INSERT INTO operation_dimensions (name, key_path) VALUES ('prompt_version', '{prompt,version}');
-- a committed change of the declarations invalidates the statistics: the
-- table answers until they are rebuilt, with the new declarations
SELECT pp_info()->>'statistics' AS statistics;
SELECT * FROM dm_check('prompt_version');
SELECT pp_rebuild() > 0 AS rebuilt;
SELECT pp_info()->>'statistics' AS statistics,
       (pp_info()->>'dimension_entries')::bigint = dm_entries() AS one_entry_each,
       pp_info()->>'dimensions_incomplete_before' AS incomplete_before;
SELECT * FROM dm_check('prompt_version');
SELECT DISTINCT dimension_value FROM pp_dimension_stats('1 day', 'prompt_version') ORDER BY 1;
-- a change of the declaration applies to every window at once, the past included
UPDATE operation_dimensions SET key_path = '{release}' WHERE name = 'prompt_version';
SELECT (SELECT array_agg(s ORDER BY s::text) FROM pp_dimension_stats('1 day', 'prompt_version') s) =
       (SELECT array_agg(s ORDER BY s::text) FROM pp_dimension_stats('1 day', 'release') s) AS same_as_release;
DELETE FROM operation_dimensions WHERE name = 'prompt_version';
SELECT count(*) FROM pp_dimension_stats('1 day', 'prompt_version');
SELECT pp_rebuild() > 0 AS rebuilt;

-- DELETE and UPDATE of profiles take back exactly what they added
DELETE FROM performance_profiles WHERE query_id IN ('r3', 'r7', 'r200');
UPDATE performance_profiles SET profile_data = dm_rag(1000) WHERE query_id IN ('r10', 'r150');
SELECT * FROM dm_live();
SELECT * FROM dm_check('model');
SELECT * FROM dm_check('release');

-- hostile values of a key path: long strings (cut to 200 bytes at a
-- character boundary), unicode, quotes, numbers, booleans, objects, arrays,
-- null
INSERT INTO operation_dimensions (name, key_path) VALUES ('model_key', '{model}');
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('h1', dm_node('gen', 5, jsonb_build_object('model', repeat('é', 150))), now() - interval '30 seconds'),
  ('h2', dm_node('gen', 6, jsonb_build_object('model', 'gpt-4o ✓ "q" '';--')), now() - interval '30 seconds'),
  ('h3', dm_node('gen', 7, '{"model": 4.10}'), now() - interval '30 seconds'),
  ('h4', dm_node('gen', 8, '{"model": true}'), now() - interval '30 seconds'),
  ('h5', dm_node('gen', 9, '{"model": {"b": [1, "x"], "a": null}}'), now() - interval '30 seconds'),
  ('h6', dm_node('gen', 10, '{"model": [2, 1]}'), now() - interval '30 seconds'),
  ('h7', dm_node('gen', 11, '{"model": null}', jsonb_build_array(dm_node('sub', 1, '{"model": ""}'))), now() - interval '30 seconds'),
  ('h8', dm_node('gen', 12, '{"model": "true"}'), now() - interval '30 seconds');
SELECT operation, dimension_value, octet_length(dimension_value) AS bytes, calls
  FROM pp_dimension_stats('1 minute', 'model_key') WHERE operation IN ('gen', 'sub') ORDER BY 1, 2;
SELECT * FROM dm_check('model_key');
-- the usage model of the same nodes: what usage_keys accepts, a non-empty
-- string of at most 200 bytes; anything else is ignored (no value)
SELECT operation, dimension_value, calls
  FROM pp_dimension_stats('1 minute', 'model') WHERE operation IN ('gen', 'sub') ORDER BY 1, 2;
SELECT * FROM dm_check('model');
DELETE FROM operation_dimensions WHERE name = 'model_key';

-- the model however the node names it (usage_keys): OpenTelemetry's
-- gen_ai.response.model before gen_ai.request.model, OpenInference's
-- llm.model_name, the plain model; of two keys, the one of smallest
-- priority; a child without one inherits its parent's (40 hours ago, out
-- of the windows below but in dm_check's two days)
INSERT INTO performance_profiles (query_id, profile_data, created_at) VALUES
  ('d1', dm_node('chat', 50, NULL, jsonb_build_array(
           dm_node('otel', 20, '{"gen_ai.system": "openai", "gen_ai.request.model": "req-m", "gen_ai.response.model": "resp-m"}',
                   jsonb_build_array(dm_node('otel_child', 5))),
           dm_node('otel_req', 11, '{"gen_ai.request.model": "req-m"}'),
           dm_node('oi', 12, '{"llm.model_name": "oi-m", "llm.token_count.prompt": 7}'),
           dm_node('plain', 13, '{"model": "plain-m"}'),
           dm_node('oi_and_plain', 14, '{"model": "plain-m", "llm.model_name": "oi-m"}'))),
   now() - interval '40 hours');
SELECT operation, dimension_value, calls, input_tokens
  FROM pp_range_dimension_stats(tstzrange(now() - interval '41 hours', now() - interval '39 hours'), 'model')
 WHERE operation IN ('chat', 'otel', 'otel_child', 'otel_req', 'oi', 'plain', 'oi_and_plain') ORDER BY 1, 2;
SELECT * FROM dm_check('model');
-- the mapping decides: with gen_ai.request.model first, otel's model is req-m
UPDATE usage_keys SET priority = 5 WHERE metadata_key = 'gen_ai.response.model';
SELECT operation, dimension_value, calls
  FROM pp_range_dimension_stats(tstzrange(now() - interval '41 hours', now() - interval '39 hours'), 'model')
 WHERE operation IN ('otel', 'otel_child') ORDER BY 1, 2;
UPDATE usage_keys SET priority = 0 WHERE metadata_key = 'gen_ai.response.model';
-- the provider, another text field of the mapping (gen_ai.system)
INSERT INTO operation_dimensions (name, usage_field) VALUES ('provider', 'provider');
SELECT operation, dimension_value, calls
  FROM pp_range_dimension_stats(tstzrange(now() - interval '41 hours', now() - interval '39 hours'), 'provider')
 WHERE operation LIKE 'otel%' ORDER BY 1, 2;
SELECT * FROM dm_check('provider');
DELETE FROM operation_dimensions WHERE name = 'provider';

-- the fold: two values kept (the two with most nodes), the rest in one row
-- per operation, with exact counts and no percentiles; the live answer
-- keeps the same values as the table
SELECT pp_rebuild() > 0 AS rebuilt;
SELECT * FROM dm_live();
CREATE FUNCTION dm_same(a text, b text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %I x FULL JOIN %I y ON x.operation = y.operation
                   AND x.dimension_value IS NOT DISTINCT FROM y.dimension_value AND x.folded = y.folded
                   WHERE x.operation IS NULL OR y.operation IS NULL OR x.calls <> y.calls OR x.errors <> y.errors
                      OR abs(x.total_ms - y.total_ms) > 1e-9 * greatest(1, y.total_ms)
                      OR x.input_tokens <> y.input_tokens OR round(x.cost_usd * 1e9) <> round(y.cost_usd * 1e9)
                      OR x.p95_ms IS DISTINCT FROM y.p95_ms AND abs(x.p95_ms - y.p95_ms) > 0.01 * y.p95_ms', a, b) INTO n;
  RETURN n;
END $$;
CREATE TABLE dm_fold_live AS SELECT * FROM pp_dimension_stats('1 day', 'model');
SET ppprof.max_dimension_values = 2;
CREATE TABLE dm_fold2_live AS SELECT * FROM pp_dimension_stats('1 day', 'model');
SELECT pp_reset() IS NOT NULL AS reset;
CREATE TABLE dm_fold2_table AS SELECT * FROM pp_dimension_stats('1 day', 'model');
RESET ppprof.max_dimension_values;
CREATE TABLE dm_fold_table AS SELECT * FROM pp_dimension_stats('1 day', 'model');
SELECT dm_same('dm_fold_live', 'dm_fold_table') AS differ, dm_same('dm_fold2_live', 'dm_fold2_table') AS differ_folded,
       (SELECT count(*) FROM dm_fold2_live WHERE folded) AS fold_rows;
SELECT pp_rebuild() > 0 AS rebuilt;
SET ppprof.max_dimension_values = 2;
SELECT operation, dimension_value, folded, calls, errors, p50_ms IS NULL AS no_percentile
  FROM pp_dimension_stats('1 day', 'model') ORDER BY 1, 3, 2;
SELECT (SELECT sum(calls) FROM pp_dimension_stats('1 day', 'model')) =
       (SELECT count(*) FROM dm_exact_nodes('model') WHERE created_at >= now() - interval '1 day') AS all_nodes,
       (SELECT sum(calls) FROM pp_dimension_stats('1 day', 'model') WHERE folded) =
       (SELECT count(*) FROM dm_exact_nodes('model')
         WHERE value IS NOT NULL AND value NOT IN ('large', 'small')
           AND created_at >= now() - interval '1 day') AS folded_nodes;
-- beyond ten times the bound, a read tracks no new value: with one value
-- kept (ten tracked), 15 more models, then 'late' on 300 nodes -- more than
-- 'large' --, all created after the ten tracked values (rows are read in
-- created_at order), fold at once; 'large' stays (calls still add up)
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'm' || k, dm_node('gen2', k, jsonb_build_object('model', 'm' || k)),
       now() - interval '20 seconds' + k * interval '10 milliseconds'
  FROM generate_series(1, 15) k;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'late' || k, dm_node('gen2', k, '{"model": "late"}'),
       now() - interval '10 seconds' + k * interval '10 milliseconds'
  FROM generate_series(1, 300) k;
SET ppprof.max_dimension_values = 1;
SELECT operation, dimension_value, folded, calls
  FROM pp_dimension_stats('1 day', 'model') ORDER BY 1, 3, 2;
SELECT (SELECT sum(calls) FROM pp_dimension_stats('1 day', 'model')) =
       (SELECT count(*) FROM dm_exact_nodes('model') WHERE created_at >= now() - interval '1 day') AS all_nodes;
-- the fold row's tokens and cost are exact too: over two days, 'large' is
-- kept and the llm nodes of 'small' and 'tiny' (with usage) are folded
SELECT operation, dimension_value, folded, calls, input_tokens, output_tokens, round(cost_usd::numeric, 6) AS cost_usd
  FROM pp_dimension_stats('2 days', 'model') WHERE operation = 'llm' ORDER BY 1, 3, 2;
SELECT f.calls = e.calls AND f.input_tokens = e.in_tok AND f.output_tokens = e.out_tok
       AND round(f.cost_usd * 1e9) = e.cost_nusd AS fold_exact
  FROM pp_dimension_stats('2 days', 'model') f,
       (SELECT count(*) AS calls, sum(in_tok) AS in_tok, sum(out_tok) AS out_tok, sum(cost_nusd) AS cost_nusd
          FROM dm_exact_nodes('model') WHERE op = 'llm' AND value <> 'large') e
 WHERE f.operation = 'llm' AND f.folded;
RESET ppprof.max_dimension_values;

-- the same answers after pp_reset() (the statistics are read from the table)
SELECT pp_reset() IS NOT NULL AS reset;
SELECT * FROM dm_live();
SELECT * FROM dm_check('model');

-- pp_compare_values: "is prompt v7 slower than v6" in one call.  40
-- requests each (the version on the root, inherited by llm): llm takes
-- 100-119 ms under v6 and 150-169 ms under v7, retrieval the same under both
INSERT INTO operation_dimensions (name, key_path) VALUES ('prompt_version', '{prompt_version}');
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'p' || k,
       dm_node('rag', 300, jsonb_build_object('prompt_version', CASE WHEN k % 2 = 0 THEN 'v6' ELSE 'v7' END),
               jsonb_build_array(dm_node('retrieval', 40 + k % 5),
                                 dm_node('llm', CASE WHEN k % 2 = 0 THEN 100 ELSE 150 END + k % 20))),
       now() - k * interval '10 seconds'
  FROM generate_series(1, 80) k;
SELECT operation, calls_before, calls_after, verdict
  FROM pp_compare_values(tstzrange(now() - interval '1 hour', now()), 'prompt_version', 'v6', 'v7')
 ORDER BY 1;
-- against the exact answer: counts, averages and error rates exact, p95
-- and p99 within 1% of percentile_disc
WITH s AS (SELECT * FROM pp_compare_values(tstzrange(now() - interval '1 hour', now()), 'prompt_version', 'v6', 'v7')),
     e AS (SELECT * FROM dm_exact('prompt_version', tstzrange(now() - interval '1 hour', now(), '[]'))),
     e95 AS (SELECT op, value, percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
                    percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
               FROM dm_exact_nodes('prompt_version') WHERE created_at >= now() - interval '1 hour'
              GROUP BY 1, 2)
SELECT count(*) AS operations,
       count(*) FILTER (WHERE s.calls_before <> b.calls OR s.calls_after <> a.calls
                           OR abs(s.avg_before_ms - b.total / b.calls) > 1e-9 * b.total
                           OR abs(s.avg_after_ms - a.total / a.calls) > 1e-9 * a.total
                           OR abs(s.error_rate_before - b.errors::float8 / b.calls) > 1e-12
                           OR abs(s.p95_before_ms - b95.p95) > 0.01 * b95.p95
                           OR abs(s.p95_after_ms - a95.p95) > 0.01 * a95.p95
                           OR abs(s.p99_after_ms - a95.p99) > 0.01 * a95.p99) AS wrong
  FROM s JOIN e b ON b.op = s.operation AND b.value = 'v6'
         JOIN e a ON a.op = s.operation AND a.value = 'v7'
         JOIN e95 b95 ON b95.op = s.operation AND b95.value = 'v6'
         JOIN e95 a95 ON a95.op = s.operation AND a95.value = 'v7';
-- a value no node has: its side is empty
SELECT operation, calls_before, calls_after, avg_before_ms IS NULL AS no_before, verdict
  FROM pp_compare_values(tstzrange(now() - interval '1 hour', now()), 'prompt_version', 'v5', 'v7')
 ORDER BY 1;
-- pp_baseline_check with a dimension: the nodes of one value against a
-- baseline of all nodes.  v7's llm (150-169 ms) is far above the hour's
-- llm; v6's llm (100-119 ms) is above it too, less
SELECT pp_capture_baseline('normal', '1 hour') AS operations;
SELECT operation, metric, severity
  FROM pp_baseline_check('normal', '1 hour', 5, dimension => 'prompt_version', value => 'v7')
 WHERE operation = 'llm' ORDER BY 1, 2;
-- the slice's rows are pp_dimension_stats' for the value: the current values
-- of v7's llm are its avg and p95
SELECT bool_and(abs(c.current_value - CASE c.metric WHEN 'avg_ms' THEN d.avg_ms ELSE d.p95_ms END) < 1e-9) AS current_from_slice,
       count(*) AS metrics
  FROM pp_baseline_check('normal', '1 hour', 5, 'prompt_version', 'v7') c
  JOIN pp_dimension_stats('1 hour', 'prompt_version') d ON d.operation = c.operation AND d.dimension_value = 'v7'
 WHERE c.operation = 'llm' AND c.metric IN ('avg_ms', 'p95_ms');
-- no calls_per_hour for a slice (its traffic is not the baseline's)
SELECT count(*) AS traffic_rows
  FROM pp_baseline_check('normal', '1 hour', 1, 'prompt_version', 'v6') WHERE metric LIKE '%per_hour';
\set VERBOSITY terse
SELECT * FROM pp_baseline_check('normal', '1 hour', 5, dimension => 'prompt_version');
SELECT * FROM pp_baseline_check('normal', '1 hour', 5, 'tenant', 'a');
\set VERBOSITY default
DELETE FROM performance_baselines;
DELETE FROM operation_dimensions WHERE name = 'prompt_version';

-- TRUNCATE empties the dimension entries with the rest and makes the
-- statistics valid; new rows are counted live again
TRUNCATE performance_profiles;
SELECT (pp_info()->>'dimension_entries')::int AS entries, * FROM dm_live();
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 't' || k, dm_rag(k), now() - k * interval '3 minutes' FROM generate_series(1, 60) k;
SELECT (pp_info()->>'dimension_entries')::bigint = dm_entries() AS one_entry_each, * FROM dm_live();
SELECT * FROM dm_check('model');
SELECT * FROM dm_check('release');

-- errors: an undeclared dimension; a key path the table refuses; nothing stored
SELECT * FROM pp_dimension_stats('1 day', 'tenant');
SELECT * FROM pp_compare_values(tstzrange(now() - interval '1 hour', now()), 'tenant', 'a', 'b');
\set VERBOSITY terse
SELECT * FROM pp_dimension_stats('-1 day', 'model');
SELECT * FROM pp_range_dimension_stats('empty', 'model');
SELECT * FROM pp_compare_values(tstzrange(now(), now() - interval '1 hour'), 'model', 'a', 'b');
INSERT INTO operation_dimensions (name, key_path) VALUES ('bad', '{}');
INSERT INTO operation_dimensions (name, key_path) VALUES ('bad', '{a,NULL}');
INSERT INTO operation_dimensions (name, key_path) VALUES ('', '{a}');
-- a key path or a usage field (model or provider), one of them
INSERT INTO operation_dimensions (name) VALUES ('bad');
INSERT INTO operation_dimensions (name, key_path, usage_field) VALUES ('bad', '{a}', 'model');
INSERT INTO operation_dimensions (name, usage_field) VALUES ('bad', 'input_tokens');
\set VERBOSITY default
SELECT count(*) FROM operation_dimensions;
-- a seeded name inserted again replaces the seeded row (pg_dump / restore)
INSERT INTO operation_dimensions (name, key_path) VALUES ('model', '{llm,model_name}');
SELECT name, key_path, usage_field FROM operation_dimensions ORDER BY name;

DROP EXTENSION ppprof;
