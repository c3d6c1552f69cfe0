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

-- every privilege a role other than the owner holds on the extension's
-- relations and functions (a NULL ACL counts as its default): exactly the
-- list of docs/security.md
CREATE VIEW ppprof_grants AS
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee,
       o.kind, o.object, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
  FROM (SELECT 'table' AS kind, c.relname::text AS object, c.relowner AS owner,
               coalesce(c.relacl, acldefault('r', c.relowner)) AS acl
          FROM pg_class c
         WHERE c.oid IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass
                            AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof'))
           AND c.relkind IN ('r', 'S', 'v', 'm', 'p', 'f')
        UNION ALL
        SELECT 'function', p.oid::regprocedure::text, p.proowner,
               coalesce(p.proacl, acldefault('f', p.proowner))
          FROM pg_proc p
         WHERE p.oid IN (SELECT objid FROM pg_depend WHERE classid = 'pg_proc'::regclass
                            AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof'))) o
 CROSS JOIN LATERAL aclexplode(o.acl) a
 WHERE a.grantee <> o.owner
 GROUP BY 1, 2, 3;
SELECT * FROM ppprof_grants ORDER BY 1, 2, 3;

-- the same through has_*_privilege (role membership included): per role and
-- privilege, on how many of the ten tables and how many functions
SELECT r.rolname, p.priv, count(*) FILTER (WHERE has_table_privilege(r.rolname, c.oid, p.priv)) AS tables
  FROM pg_roles r
 CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'),
                    ('REFERENCES'), ('TRIGGER')) p(priv)
 CROSS JOIN pg_class c
 WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
   AND c.oid IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass
                    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof'))
   AND c.relkind = 'r'
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT r.rolname, count(*) FILTER (WHERE has_function_privilege(r.rolname, p.oid, 'EXECUTE')) AS functions,
       count(*) AS of
  FROM pg_roles r
 CROSS JOIN pg_proc p
 WHERE r.rolname IN ('anon', 'authenticated', 'service_role')
   AND p.oid IN (SELECT objid FROM pg_depend WHERE classid = 'pg_proc'::regclass
                    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof'))
 GROUP BY 1 ORDER BY 1;

-- the audit's way to the owner's rights: service_role put an AFTER INSERT
-- trigger on performance_snapshots, which the owner's pp_snapshot() job
-- fired.  It can no longer create a trigger, a foreign key, or truncate;
-- nor run pp_time (any statement) or the owner's jobs
CREATE SCHEMA svc AUTHORIZATION service_role;
SET ROLE service_role;
CREATE FUNCTION svc.escalate() RETURNS trigger LANGUAGE plpgsql
AS $$ BEGIN EXECUTE 'ALTER ROLE service_role SUPERUSER'; RETURN NULL; END $$;
CREATE TRIGGER escalate AFTER INSERT ON performance_snapshots
    FOR EACH ROW EXECUTE FUNCTION svc.escalate();
CREATE TRIGGER escalate AFTER INSERT ON performance_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION svc.escalate();
CREATE TABLE svc.pin (snapshot uuid REFERENCES performance_snapshots (id));
TRUNCATE performance_profiles;
SELECT pp_time('t', 'SELECT 1');
SELECT count(*) FROM pp_snapshot();
SELECT count(*) FROM pp_check_alerts();
SELECT * FROM pp_purge('1 day');
RESET ROLE;
-- nothing was created; the owner's snapshot runs no one else's code
SELECT tgrelid::regclass, tgname FROM pg_trigger
 WHERE tgrelid IN (SELECT objid FROM pg_depend WHERE classid = 'pg_class'::regclass
                      AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof'))
   AND tgfoid = 'svc.escalate'::regproc;
SELECT to_regclass('svc.pin') IS NULL AS no_foreign_key_table;
SELECT count(*) AS snapshots FROM pp_snapshot();
SELECT rolsuper FROM pg_roles WHERE rolname = 'service_role';
DROP SCHEMA svc CASCADE;
DELETE FROM performance_snapshots;

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

-- opening profiles to authenticated users, each to the rows whose query_id
-- starts with their JWT subject and a colon
DELETE FROM performance_profiles;
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('victim-uuid:1', '{"operation_name": "r", "duration_ms": 1, "metadata": {"prompt": "secret"}}'),
       (':orphan', '{"operation_name": "r", "duration_ms": 1}');
-- the policy of the 1.2 documentation took the subject as a LIKE pattern:
-- subject victim_uuid read victim-uuid's profile ("_" matches "-")
GRANT SELECT, INSERT ON performance_profiles TO authenticated;
CREATE POLICY authenticated_own_profiles ON performance_profiles
    FOR ALL TO authenticated
    USING (query_id LIKE (current_setting('request.jwt.claims', true)::jsonb ->> 'sub') || ':%')
    WITH CHECK (query_id LIKE (current_setting('request.jwt.claims', true)::jsonb ->> 'sub') || ':%');
SET ROLE authenticated;
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "victim_uuid"}', false);
SELECT query_id, profile_data->'metadata' AS leaked FROM performance_profiles;
RESET ROLE;
DROP POLICY authenticated_own_profiles ON performance_profiles;
REVOKE ALL ON performance_profiles FROM authenticated;

-- the recipe of docs/security.md, as it is written there
GRANT SELECT ON performance_profiles TO authenticated;
GRANT INSERT (query_id, profile_data) ON performance_profiles TO authenticated;
CREATE POLICY authenticated_read_own ON performance_profiles
    FOR SELECT TO authenticated
    USING (starts_with(query_id,
        nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '') || ':'));
CREATE POLICY authenticated_insert_own ON performance_profiles
    FOR INSERT TO authenticated
    WITH CHECK (starts_with(query_id,
        nullif(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub', '') || ':'));

SET ROLE authenticated;
-- the same subject now reads nothing of victim-uuid's
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": "victim_uuid"}', false);
SELECT query_id FROM performance_profiles;
-- it stores and reads its own
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('victim_uuid:1', '{"operation_name": "vector_search", "duration_ms": 900}');
SELECT query_id, total_duration_ms, jsonb_array_length(bottleneck_operations) AS b,
       created_at > now() - interval '1 hour' AS stamped_now
  FROM performance_profiles;
-- but neither under another subject, nor a wildcard of it
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('victim-uuid:2', '{"operation_name": "r", "duration_ms": 1}');
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('victim%:3', '{"operation_name": "r", "duration_ms": 1}');
-- and it cannot forge the columns ppprof fills
INSERT INTO performance_profiles (query_id, profile_data, created_at)
VALUES ('victim_uuid:2', '{"operation_name": "r", "duration_ms": 1}', '2020-01-01');
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('victim_uuid:3', '{"operation_name": "r", "duration_ms": 1}', 0.001);
INSERT INTO performance_profiles (query_id, profile_data, bottleneck_operations, ppprof_analyzed)
VALUES ('victim_uuid:4', '{"operation_name": "r", "duration_ms": 1}', '[]', true);
INSERT INTO performance_profiles (query_id, profile_data, ppprof_rejected)
VALUES ('victim_uuid:6', '{"operation_name": "r"}', 'stored unchecked');
INSERT INTO performance_profiles (id, query_id, profile_data)
VALUES ('00000000-0000-0000-0000-000000000001', 'victim_uuid:5', '{"operation_name": "r", "duration_ms": 1}');
UPDATE performance_profiles SET created_at = '2020-01-01';
DELETE FROM performance_profiles;
-- an empty or missing subject reads nothing (not the rows starting with ":")
SELECT set_config('request.jwt.claims', '{"role": "authenticated", "sub": ""}', false);
SELECT query_id FROM performance_profiles;
SELECT set_config('request.jwt.claims', '', false);
SELECT query_id FROM performance_profiles;
RESET ROLE;
-- what is stored: the two rows from before and the one allowed insert
SELECT query_id, created_at > now() - interval '1 hour' AS stamped_now FROM performance_profiles ORDER BY 1;

-- clean up
DROP VIEW ppprof_grants;
DROP EXTENSION ppprof;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
REVOKE USAGE ON SCHEMA public FROM anon, authenticated, service_role;
DROP ROLE anon, authenticated, service_role, pp_writer;
