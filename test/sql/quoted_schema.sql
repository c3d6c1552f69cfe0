-- quoted_schema: ppprof in a schema whose name needs quotes ("Prof").
-- '@extschema@' in a string literal is substituted already quoted, so
-- quoting it again names """Prof""": 1.2's pp_purge failed with relation
-- ""Prof".performance_profiles" does not exist, and its pg_cron job
-- commands named """Prof""".  pp_purge and the job commands read the
-- schema's name from pg_extension and quote it once.
CREATE SCHEMA "Prof";
CREATE EXTENSION ppprof WITH SCHEMA "Prof";
INSERT INTO "Prof".performance_profiles (query_id, profile_data, created_at)
SELECT 'q' || g, '{"operation_name": "rag", "duration_ms": 10}', now() - g * interval '10 days' - interval '1 hour'
  FROM generate_series(0, 5) g;
SELECT * FROM "Prof".pp_purge('30 days');
SELECT query_id FROM "Prof".performance_profiles ORDER BY 1;

-- the job commands, and each of them run with "Prof" off the search_path
SELECT * FROM "Prof".pp_job_commands('15 days');
DO $$
DECLARE
    j record;
BEGIN
    FOR j IN SELECT * FROM "Prof".pp_job_commands('15 days') LOOP
        EXECUTE j.command;
    END LOOP;
END;
$$;
SELECT (SELECT count(*) FROM "Prof".performance_snapshots) AS snapshots,
       (SELECT string_agg(name, ',') FROM "Prof".performance_baselines) AS baselines,
       (SELECT string_agg(query_id, ',' ORDER BY query_id) FROM "Prof".performance_profiles) AS profiles;
-- pp_schedule_jobs gets as far as pg_cron, which pg_regress cannot load
SELECT * FROM "Prof".pp_schedule_jobs();

-- the default retention
SELECT command FROM "Prof".pp_job_commands() WHERE job_name = 'ppprof_purge';

DROP EXTENSION ppprof;
DROP SCHEMA "Prof";
