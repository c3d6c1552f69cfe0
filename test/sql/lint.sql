-- lint: the rules a database linter (like Supabase's splinter) checks,
-- applied to every object the extension creates
CREATE EXTENSION ppprof;

CREATE VIEW ppprof_objects AS
SELECT d.classid, d.objid
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.deptype = 'e';

-- every table has row level security enabled
SELECT c.relname AS table_without_rls
  FROM ppprof_objects o JOIN pg_class c ON c.oid = o.objid
 WHERE o.classid = 'pg_class'::regclass AND c.relkind = 'r' AND NOT c.relrowsecurity;

-- no SECURITY DEFINER function: each runs as its caller
SELECT p.oid::regprocedure AS security_definer
  FROM ppprof_objects o JOIN pg_proc p ON p.oid = o.objid
 WHERE o.classid = 'pg_proc'::regclass AND p.prosecdef;

-- SQL and plpgsql functions pin their search_path to pg_catalog and pg_temp
-- only (a writable schema on the path could hold a better-matching
-- operator than pg_catalog's)
SELECT p.oid::regprocedure AS function_without_pinned_search_path, p.proconfig
  FROM ppprof_objects o JOIN pg_proc p ON p.oid = o.objid
  JOIN pg_language l ON l.oid = p.prolang
 WHERE o.classid = 'pg_proc'::regclass AND l.lanname IN ('sql', 'plpgsql')
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false);

-- no function is executable by PUBLIC, and every function is documented
SELECT p.oid::regprocedure AS public_or_undocumented
  FROM ppprof_objects o JOIN pg_proc p ON p.oid = o.objid
 WHERE o.classid = 'pg_proc'::regclass
   AND (has_function_privilege('public', p.oid, 'EXECUTE')
        OR obj_description(p.oid, 'pg_proc') IS NULL);

-- no table is readable or writable by PUBLIC
SELECT c.relname AS public_table
  FROM ppprof_objects o JOIN pg_class c ON c.oid = o.objid
 WHERE o.classid = 'pg_class'::regclass AND c.relkind = 'r'
   AND (has_table_privilege('public', c.oid, 'SELECT')
        OR has_table_privilege('public', c.oid, 'INSERT'));

-- the objects counted by the checks above
SELECT count(*) FILTER (WHERE classid = 'pg_class'::regclass) AS relations,
       count(*) FILTER (WHERE classid = 'pg_proc'::regclass) AS functions
  FROM ppprof_objects;

-- look-alike objects planted in a schema searched first do not change
-- what ppprof does: its statements name pg_catalog's operators and
-- functions and its own schema explicitly
CREATE SCHEMA trap;
CREATE FUNCTION trap.jsonb_arrow(jsonb, text) RETURNS jsonb
LANGUAGE sql AS $$ SELECT '{"query_id": "planted"}'::jsonb $$;
CREATE OPERATOR trap.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = trap.jsonb_arrow);
CREATE FUNCTION trap.gen_random_uuid() RETURNS uuid
LANGUAGE sql AS $$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;
CREATE TABLE trap.performance_profiles (query_id text, profile_data jsonb);
SET search_path = trap, public, pg_catalog;
SELECT pp_ingest('{"operation_name": "r", "duration_ms": 1, "metadata": {"query_id": "real"}}') IS NOT NULL AS stored;
SELECT count(*) AS planted_rows FROM trap.performance_profiles;
RESET search_path;
SELECT query_id, id <> '00000000-0000-0000-0000-000000000000' AS real_uuid FROM performance_profiles;
DROP SCHEMA trap CASCADE;

DROP VIEW ppprof_objects;
DROP EXTENSION ppprof;
