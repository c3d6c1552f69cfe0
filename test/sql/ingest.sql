-- ingest: the two paths (plain INSERT and pp_ingest / pp_ingest_batch) and
-- what the trigger fills in
CREATE EXTENSION ppprof;

-- A profile as Python's dataclasses.asdict writes a TimingRecord
\set p1 '{"operation_name": "rag_pipeline", "start_time": 1700000000.0, "end_time": 1700000003.0, "duration_ms": 3000.0, "metadata": {"query_id": "meta-q"}, "error": null, "children": [{"operation_name": "embed_query", "start_time": 1700000000.0, "end_time": 1700000000.25, "duration_ms": 250.0, "metadata": {}, "children": [], "error": null}, {"operation_name": "retrieval", "start_time": 1700000000.25, "end_time": 1700000000.9, "duration_ms": 650.0, "metadata": {}, "error": null, "children": [{"operation_name": "vector_search", "start_time": 1700000000.25, "end_time": 1700000000.85, "duration_ms": 600.0, "metadata": {"top_k": 5}, "children": [], "error": null}, {"operation_name": "reranking", "start_time": 1700000000.3, "end_time": 1700000000.4, "duration_ms": 100.0, "metadata": {}, "children": [], "error": null}]}, {"operation_name": "llm_generation", "start_time": 1700000000.9, "end_time": 1700000003.0, "duration_ms": 2100.0, "metadata": {}, "children": [], "error": "timeout"}]}'

-- (a) plain INSERT, exactly what a Supabase client sends
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('q-insert', :'p1', '2026-01-01 10:00:00+00');
SELECT query_id, total_duration_ms, created_at,
       jsonb_pretty(bottleneck_operations) AS bottlenecks
  FROM performance_profiles WHERE query_id = 'q-insert';
SELECT jsonb_array_length(optimization_suggestions) AS n_suggestions,
       optimization_suggestions -> 0 AS first
  FROM performance_profiles WHERE query_id = 'q-insert';

-- (b) pp_ingest gives the identical analysis
SELECT pp_ingest(:'p1', 'q-ingest') IS NOT NULL AS stored;
SELECT a.total_duration_ms = b.total_duration_ms AS same_total,
       a.bottleneck_operations = b.bottleneck_operations AS same_bottlenecks,
       a.optimization_suggestions = b.optimization_suggestions AS same_suggestions
  FROM performance_profiles a, performance_profiles b
 WHERE a.query_id = 'q-insert' AND b.query_id = 'q-ingest';

-- query_id: argument, else metadata.query_id of the root, else generated
SELECT pp_ingest(:'p1') IS NOT NULL AS stored;
SELECT count(*) FROM performance_profiles WHERE query_id = 'meta-q';
SELECT pp_ingest('{"operation_name": "x", "duration_ms": 1}') IS NOT NULL AS stored;
SELECT query_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-' AS generated_uuid
  FROM performance_profiles WHERE profile_data ->> 'operation_name' = 'x';
-- the returned id is the row's id
SELECT pp_ingest('{"operation_name": "y", "duration_ms": 2}', 'q-y') AS y_id \gset
SELECT query_id FROM performance_profiles WHERE id = :'y_id';

-- a client's own values are kept: total, non-empty analysis columns, created_at
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms,
                                  bottleneck_operations, optimization_suggestions, created_at)
VALUES ('q-own', :'p1', 42, '[{"mine": true}]', '[{"also": "mine"}]', '2020-02-02 00:00:00+00');
SELECT total_duration_ms, bottleneck_operations, optimization_suggestions, created_at
  FROM performance_profiles WHERE query_id = 'q-own';
-- an explicit empty array is filled like NULL
INSERT INTO performance_profiles (query_id, profile_data, bottleneck_operations)
VALUES ('q-empty', :'p1', '[]');
SELECT jsonb_array_length(bottleneck_operations) FROM performance_profiles WHERE query_id = 'q-empty';

-- duration from start_time and end_time when duration_ms is null or absent
SELECT pp_ingest('{"operation_name": "r", "start_time": 10, "end_time": 10.5, "duration_ms": null, "children": [{"operation_name": "c", "start_time": 10.1, "end_time": 10.2}]}', 'q-times') IS NOT NULL;
SELECT total_duration_ms FROM performance_profiles WHERE query_id = 'q-times';

-- self time: union of the children's intervals when all are known ...
SELECT node, path, operation, operation_type, duration_ms, round(self_ms::numeric, 6) AS self_ms,
       threshold_ms, is_bottleneck, failed
  FROM pp_analyze_profile(:'p1');
-- ... overlapping children count once
SELECT node, round(self_ms::numeric, 6) FROM pp_analyze_profile(
  '{"operation_name": "r", "duration_ms": 100, "start_time": 0, "end_time": 0.1, "children": [
     {"operation_name": "a", "start_time": 0.00, "end_time": 0.04},
     {"operation_name": "b", "start_time": 0.02, "end_time": 0.05},
     {"operation_name": "c", "start_time": 0.07, "end_time": 0.08}]}');
-- ... otherwise the sum of their durations, never below zero
SELECT node, self_ms FROM pp_analyze_profile(
  '{"operation_name": "r", "duration_ms": 100, "children": [
     {"operation_name": "a", "duration_ms": 30}, {"operation_name": "b", "duration_ms": 20}]}');
SELECT node, self_ms FROM pp_analyze_profile(
  '{"operation_name": "r", "duration_ms": 10, "children": [
     {"operation_name": "a", "duration_ms": 30}, {"operation_name": "b", "duration_ms": 20}]}');

-- numbers are read as float8in reads their text, whatever their form
SELECT setseed(0.5);
WITH v(t) AS (
  SELECT (random() * 1e6)::float8::text FROM generate_series(1, 2000)
  UNION ALL SELECT round((random() * 10 ^ (g % 10))::numeric, g % 12)::text FROM generate_series(1, 2000) g
  UNION ALL SELECT x FROM unnest(ARRAY['0', '0.0', '0.1', '130.50000000000003', '999999999.9999999',
        '1e9', '0.000001', '1e-7', '5e-324', '2.2250738585072014e-308', '123.456e2', '1E+3',
        '0.30000000000000004', '123.4560000000000000000000000000000000000000000000000000000000000001',
        '900719925.4740993', '4.35', '1.7976931348623157e-300', '0.1e1',
        '999999999.999999', '90071992.54740993', '0.000000000000000000000001',
        '0.00000000000000000000000010', '0.000000000000000000000000123400', '176722560.01234567']) x)
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE a.duration_ms = v.t::float8) AS read_exactly
  FROM v, LATERAL pp_analyze_profile(('{"operation_name": "n", "duration_ms": ' || v.t || '}')::jsonb) a;

-- epoch timestamps as clients write them (microseconds; float8's shortest
-- text, up to 17 digits): the duration from start_time and end_time is the
-- one SQL computes from the same text
WITH s(t) AS (
  SELECT round((1.7e9 + random() * 1e8)::numeric, 6)::text FROM generate_series(1, 2000)
  UNION ALL SELECT (1.7e9 + random() * 1e8)::float8::text FROM generate_series(1, 2000)
  UNION ALL SELECT x FROM unnest(ARRAY['1767225600.123456', '1767225600.1234567', '9007199254.740992',
        '9007199254.740993', '1700000000', '1700000000.5']) x),
v(t, e) AS (SELECT t, (t::numeric + round((random() * 2)::numeric, 6))::text FROM s)
SELECT count(*) AS timestamps,
       count(*) FILTER (WHERE a.duration_ms = (v.e::float8 - v.t::float8) * 1000) AS read_exactly
  FROM v, LATERAL pp_analyze_profile(('{"operation_name": "n", "start_time": ' || v.t ||
                                      ', "end_time": ' || v.e || '}')::jsonb) a;

-- the numbers ppprof writes (here into bottleneck_operations) are the
-- numerics SQL's float8 -> numeric cast makes of the same doubles: same
-- value, same scale; a root with a child gives a self time that is a
-- difference of doubles, digits to the last bit
BEGIN;
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('numtest', 1e-300);
CREATE TEMP TABLE numbers AS
WITH v(t) AS (
  SELECT (random() * 10 ^ (g % 18 - 8))::float8::text FROM generate_series(1, 3000) g
  UNION ALL SELECT round((random() * 10 ^ (g % 10))::numeric, g % 9)::text FROM generate_series(1, 2000) g
  UNION ALL SELECT x FROM unnest(ARRAY['1e-8', '0.00001', '0.0000099999999999999991', '0.1', '0.3',
        '0.30000000000000004', '0.5', '2.5', '0.1234567890123455', '0.12345678901234549',
        '0.12345678901234551', '99999999.99999999', '999999999.9999999', '1000000000', '123456789.123456789',
        '4.35', '1.0000000000000002', '0.9999999999999999', '1e-300', '100', '1200']) x)
SELECT row_number() OVER () AS i, t, least(random() * t::float8 * 1.2, 1e9)::text AS c FROM v;
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'num-' || i, ('{"operation_name": "numtest", "duration_ms": ' || t ||
                     ', "children": [{"operation_name": "child", "duration_ms": ' || c || '}]}')::jsonb
  FROM numbers;
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE b ->> 'duration_ms' = (n.t::float8::numeric)::text) AS durations_as_sql,
       count(*) FILTER (WHERE b ->> 'self_ms' = (greatest(n.t::float8 - n.c::float8, 0)::numeric)::text) AS self_times_as_sql,
       count(*) FILTER (WHERE b ->> 'threshold_ms' = '1e-300'::float8::numeric::text) AS thresholds_as_sql
  FROM numbers n JOIN performance_profiles p ON p.query_id = 'num-' || n.i,
       LATERAL jsonb_array_elements(p.bottleneck_operations) b
 WHERE b ->> 'path' = '$';
ROLLBACK;

-- unknown keys are kept and ignored; names are data, stored verbatim
SELECT pp_ingest(jsonb_build_object(
         'operation_name', 'Ünïcødé 検索 🚀', 'duration_ms', 1, 'extra', jsonb_build_object('k', 1),
         'children', jsonb_build_array(
            jsonb_build_object('operation_name', 'x"); DROP TABLE performance_profiles; --', 'duration_ms', 1),
            jsonb_build_object('operation_name', E'quote '' and \\ backslash', 'duration_ms', 1))),
       'q-unicode') IS NOT NULL AS stored;
SELECT operation, operation_type FROM pp_analyze_profile(
  (SELECT profile_data FROM performance_profiles WHERE query_id = 'q-unicode'));
SELECT profile_data -> 'extra' FROM performance_profiles WHERE query_id = 'q-unicode';

-- pp_ingest_batch: all or nothing, returns the count
SELECT pp_ingest_batch(jsonb_build_array(:'p1'::jsonb, '{"operation_name": "b2", "duration_ms": 5}'::jsonb));
SELECT pp_ingest_batch('[]');
SELECT count(*) FROM performance_profiles WHERE query_id = 'meta-q';

-- pp_ingest_jsonl: one profile per line, blank lines (and CR LF) skipped,
-- query_id from the root's metadata as above, else a new uuid
SELECT pp_ingest_jsonl(E'\n{"operation_name": "j1", "duration_ms": 3, "metadata": {"query_id": "jsonl-q"}}\r\n'
                       '   \n{"operation_name": "j2", "duration_ms": 4, "children": [{"operation_name": "llm_call", "duration_ms": 2}]}\n');
SELECT CASE WHEN query_id ~ '^[0-9a-f-]{36}$' THEN 'a uuid' ELSE query_id END AS query_id,
       total_duration_ms, profile_data ->> 'operation_name' AS root, ppprof_analyzed,
       jsonb_array_length(bottleneck_operations) AS bottlenecks
  FROM performance_profiles WHERE profile_data ->> 'operation_name' IN ('j1', 'j2')
 ORDER BY total_duration_ms;
SELECT pp_ingest_jsonl(''), pp_ingest_jsonl(E'\n \t\n');

-- UPDATE of profile_data recomputes what the client did not set
UPDATE performance_profiles
   SET profile_data = '{"operation_name": "vector_search", "duration_ms": 900}'
 WHERE query_id = 'q-insert';
SELECT total_duration_ms, bottleneck_operations -> 0 ->> 'operation' AS b
  FROM performance_profiles WHERE query_id = 'q-insert';
-- an UPDATE that does not touch profile_data leaves the analysis alone
UPDATE performance_profiles SET query_id = 'q-insert-2' WHERE query_id = 'q-insert';
SELECT total_duration_ms, jsonb_array_length(bottleneck_operations)
  FROM performance_profiles WHERE query_id = 'q-insert-2';

-- multi-row INSERT ... SELECT goes through the same trigger
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'bulk-' || g, jsonb_build_object('operation_name', 'database_query', 'duration_ms', g * 30)
  FROM generate_series(1, 5) g;
SELECT query_id, total_duration_ms, jsonb_array_length(bottleneck_operations) AS b
  FROM performance_profiles WHERE query_id LIKE 'bulk-%' ORDER BY 1;

DROP EXTENSION ppprof;
