-- settings: ppprof.enabled and ppprof.sample_rate
CREATE EXTENSION ppprof;

-- ppprof.enabled = off stores rows as they are: no validation, no
-- analysis, no statistics; the statistics say they no longer cover the table
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('before', '{"operation_name": "vector_search", "duration_ms": 900}');
SELECT pp_info()->>'statistics' AS statistics;
SET ppprof.enabled = off;
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('off-bad', '"not a profile"', 1),
       ('off-good', '{"operation_name": "vector_search", "duration_ms": 800}', 800);
SELECT query_id, total_duration_ms, bottleneck_operations, ppprof_analyzed
  FROM performance_profiles ORDER BY query_id;
SELECT pp_info()->>'statistics' AS statistics;
-- the table answers meanwhile (the unparseable row is skipped)
SELECT operation, calls FROM pp_operation_stats('1 hour');
-- back on: the first write says what the statistics miss
RESET ppprof.enabled;
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('after', '{"operation_name": "vector_search", "duration_ms": 700}');
SELECT pp_rebuild();
SELECT pp_info()->>'statistics' AS statistics;
SELECT operation, calls, total_ms FROM pp_operation_stats('1 hour');
-- only superusers may turn it off
CREATE ROLE pp_settings_user;
SET ROLE pp_settings_user;
SET ppprof.enabled = off;
RESET ROLE;
DROP ROLE pp_settings_user;

-- ppprof.sample_rate keeps a fraction of pp_ingest calls; the others return
-- NULL, store nothing and are counted
SELECT (pp_info()->>'sampled_out')::bigint AS sampled_before \gset
SET ppprof.sample_rate = 0;
SELECT pp_ingest('{"operation_name": "s", "duration_ms": 1}', 'sampled') IS NULL AS dropped;
SELECT count(*) FROM performance_profiles WHERE query_id = 'sampled';
SET ppprof.sample_rate = 0.5;
SELECT count(*) FILTER (WHERE id IS NOT NULL) BETWEEN 350 AND 650 AS about_half_kept
  FROM (SELECT pp_ingest('{"operation_name": "s", "duration_ms": 1}', 'half') AS id
          FROM generate_series(1, 1000)) s;
SELECT (SELECT count(*) FROM performance_profiles WHERE query_id = 'half')
       + (pp_info()->>'sampled_out')::bigint - :sampled_before AS calls_accounted_for;
SET ppprof.sample_rate = 1.5;
SET ppprof.sample_rate = -0.1;
RESET ppprof.sample_rate;

-- pp_info accounts for what was ingested
SELECT (pp_info()->>'profiles_ingested')::bigint > 0 AS counted,
       (pp_info()->>'mean_ingest_us')::float8 > 0 AS timed,
       (pp_info()->>'shared_memory_used_bytes')::bigint > 0 AS memory_used;

DROP EXTENSION ppprof;
