-- privileges: Supabase-style roles under Supabase's default privileges
-- (ALL on every new table and function in public for anon, authenticated
-- and service_role); CREATE EXTENSION must still leave anon and
-- authenticated with nothing, and give service_role what it needs.
CREATE ROLE anon NOLOGIN;
CREATE ROLE authenticated NOLOGIN;
CREATE ROLE service_role NOLOGIN BYPASSRLS;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

CREATE EXTENSION ppprof;

-- table privileges per role
SELECT r.rolname, c.relname,
       has_table_privilege(r.rolname, c.oid, 'SELECT') AS sel,
       has_table_privilege(r.rolname, c.oid, 'INSERT') AS ins,
       has_table_privilege(r.rolname, c.oid, 'UPDATE') AS upd,
       has_table_privilege(r.rolname, c.oid, 'DELETE') AS del
  FROM pg_roles r
 CROSS JOIN pg_class c
 WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
   AND c.relname IN ('performance_profiles', 'performance_bottlenecks', 'performance_thresholds',
                     'operation_categories', 'optimization_catalog', 'performance_snapshots',
                     'performance_baselines', 'performance_baseline_operations',
                     'performance_alert_rules', 'performance_alerts')
 ORDER BY 1, 2;

-- function privileges per role
SELECT r.rolname, p.oid::regprocedure AS func, has_function_privilege(r.rolname, p.oid, 'EXECUTE') AS exec
  FROM pg_roles r
 CROSS JOIN pg_proc p
 WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
   AND p.oid IN (SELECT objid FROM pg_depend
                  WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
                    AND classid = 'pg_proc'::regclass)
 ORDER BY 1, 2;

-- a request as PostgREST sends it: anon and authenticated read and write nothing
SET ROLE anon;
SELECT set_config('request.jwt.claims', '{"role": "anon"}', true);
SELECT count(*) FROM performance_profiles;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('q-anon', '{"operation_name": "r", "duration_ms": 1}');
SELECT pp_ingest('{"operation_name": "r", "duration_ms": 1}');
UPDATE performance_thresholds SET threshold_ms = 1;
RESET ROLE;

SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "6f1b"}', true);
SELECT count(*) FROM performance_profiles;
SELECT pp_ingest_batch('[{"operation_name": "r", "duration_ms": 1}]');
DELETE FROM performance_profiles;
RESET ROLE;

-- service_role ingests (both paths), reads, and edits the configuration
SET ROLE service_role;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('q-service', '{"operation_name": "vector_search", "duration_ms": 900}');
SELECT pp_ingest('{"operation_name": "db_query", "duration_ms": 300}', 'q-service-2') IS NOT NULL AS stored;
SELECT query_id, total_duration_ms, jsonb_array_length(bottleneck_operations) AS b
  FROM performance_profiles ORDER BY 1;
UPDATE performance_thresholds SET threshold_ms = 250 WHERE operation_type = 'database_query';
SELECT threshold_ms FROM pp_analyze_profile('{"operation_name": "db_query", "duration_ms": 300}');
RESET ROLE;

-- the configuration cache is loaded as the owner, whatever role triggers it:
-- a role that may insert profiles but not read the configuration still gets
-- the analysis
CREATE ROLE pp_writer NOLOGIN;
GRANT INSERT ON performance_profiles TO pp_writer;
CREATE POLICY pp_writer_insert ON performance_profiles FOR INSERT TO pp_writer WITH CHECK (true);
-- (a statement on a configuration table drops the cached copy first)
UPDATE performance_thresholds SET threshold_ms = threshold_ms WHERE false;
SET ROLE pp_writer;
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('q-writer', '{"operation_name": "db_query", "duration_ms": 300}');
SELECT count(*) FROM performance_thresholds;
RESET ROLE;
SELECT jsonb_array_length(bottleneck_operations) FROM performance_profiles WHERE query_id = 'q-writer';

-- the documented way to open profiles to authenticated users: their own rows
-- (here: query_id prefixed with their subject), with a policy
GRANT SELECT, INSERT ON performance_profiles TO authenticated;
CREATE POLICY authenticated_own_profiles ON performance_profiles
    FOR ALL TO authenticated
    USING (query_id LIKE (current_setting('request.jwt.claims', true)::jsonb ->> 'sub') || ':%')
    WITH CHECK (query_id LIKE (current_setting('request.jwt.claims', true)::jsonb ->> 'sub') || ':%');
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "6f1b"}', false);
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('6f1b:1', '{"operation_name": "r", "duration_ms": 1}');
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('someone-else:1', '{"operation_name": "r", "duration_ms": 1}');
SELECT query_id FROM performance_profiles;
RESET ROLE;

-- clean up
DROP EXTENSION ppprof;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
REVOKE USAGE ON SCHEMA public FROM anon, authenticated, service_role;
DROP ROLE anon, authenticated, service_role, pp_writer;
