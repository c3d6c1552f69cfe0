-- upgrade: ALTER EXTENSION ppprof UPDATE from 1.0 to 1.1, then to 1.2, keeps
-- the data and the live statistics, and ends with the objects of a fresh
-- install
CREATE EXTENSION ppprof VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'ppprof';
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'u' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 100 + g,
         'children', jsonb_build_array(jsonb_build_object('operation_name', 'cache_get',
           'duration_ms', 2, 'metadata', jsonb_build_object('cache', CASE WHEN g % 2 = 0 THEN 'hit' ELSE 'miss' END))))
  FROM generate_series(1, 10) g;
SELECT to_regproc('pp_trends') IS NULL AS no_trends_in_1_0;

ALTER EXTENSION ppprof UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'ppprof';
SELECT operation, calls, avg_ms FROM pp_operation_stats('1 hour') ORDER BY 1;
SELECT operation, calls, cache_lookups, cache_hit_rate
  FROM pp_range_stats(tstzrange(now() - interval '1 hour', now(), '[]')) ORDER BY 1 NULLS FIRST;
SELECT pp_info()->>'statistics' AS statistics;
SELECT to_regproc('pp_ingest_jsonl') IS NULL AS no_jsonl_in_1_1;

ALTER EXTENSION ppprof UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ppprof';
SELECT pp_ingest_jsonl(E'{"operation_name": "rag", "duration_ms": 200}\n{"operation_name": "rag", "duration_ms": 300}');
SELECT operation, calls, avg_ms FROM pp_operation_stats('1 hour') ORDER BY 1;

CREATE TEMP TABLE upgraded AS
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof') AND deptype = 'e';
DROP EXTENSION ppprof;
CREATE EXTENSION ppprof;
CREATE TEMP TABLE fresh AS
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof') AND deptype = 'e';
-- no difference either way
(SELECT object FROM upgraded EXCEPT SELECT object FROM fresh)
UNION ALL
(SELECT object FROM fresh EXCEPT SELECT object FROM upgraded);
SELECT count(*) AS objects FROM fresh;
-- there is no version 0.9 to come from
DROP EXTENSION ppprof;
CREATE EXTENSION ppprof VERSION '0.9';
