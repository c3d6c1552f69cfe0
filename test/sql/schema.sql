-- schema: what CREATE EXTENSION ppprof creates, and that DROP removes it all
CREATE EXTENSION ppprof;

-- the seed's two tables, column by column
SELECT table_name, column_name, data_type, is_nullable, column_default
  FROM information_schema.columns
 WHERE table_name IN ('performance_profiles', 'performance_bottlenecks')
 ORDER BY table_name, ordinal_position;

SELECT conrelid::regclass AS tab, contype, pg_get_constraintdef(oid) AS def
  FROM pg_constraint
 WHERE conrelid IN ('performance_profiles'::regclass, 'performance_bottlenecks'::regclass)
 ORDER BY 1, 2, 3;

SELECT indexrelid::regclass, pg_get_indexdef(indexrelid)
  FROM pg_index WHERE indrelid = 'performance_profiles'::regclass ORDER BY 1;

-- the triggers fire under session_replication_role = replica too (A:
-- always), as logical replication's workers run
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'performance_profiles'::regclass AND NOT tgisinternal ORDER BY 1;

-- configuration tables
SELECT table_name, column_name, data_type, is_nullable
  FROM information_schema.columns
 WHERE table_name IN ('performance_thresholds', 'operation_categories', 'optimization_catalog')
 ORDER BY table_name, ordinal_position;

SELECT operation_type, threshold_ms FROM performance_thresholds ORDER BY 1;
SELECT operation_type, count(*) FROM optimization_catalog GROUP BY 1 ORDER BY 1;
SELECT count(*) AS categories FROM operation_categories;

-- row level security on every table the extension created
SELECT c.relname, c.relrowsecurity
  FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_class'::regclass AND c.relkind = 'r'
 ORDER BY 1;

-- every table is registered for pg_dump
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension
 WHERE extname = 'ppprof' ORDER BY 1;

-- no function is executable by PUBLIC
SELECT p.oid::regprocedure AS func
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_proc'::regclass
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1;

-- the SQL-visible functions, with volatility and strictness (by name: a
-- regprocedure sorts by OID, the order of the install script)
SELECT p.oid::regprocedure AS func, p.provolatile, p.proisstrict, p.proparallel,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
   AND d.classid = 'pg_proc'::regclass
 ORDER BY p.oid::regprocedure::text;

-- the GUCs
SELECT name, setting, context FROM pg_settings WHERE name LIKE 'ppprof.%' ORDER BY 1;
SET ppprof.no_such_setting = 1;

-- DROP EXTENSION leaves nothing behind
DROP EXTENSION ppprof;
SELECT count(*) AS leftover_tables FROM pg_class
 WHERE relname IN ('performance_profiles', 'performance_bottlenecks',
                   'performance_thresholds', 'operation_categories', 'optimization_catalog');
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname LIKE 'pp\_%';

-- not relocatable, but any schema at creation, as on Supabase
CREATE SCHEMA extensions;
CREATE EXTENSION ppprof WITH SCHEMA extensions;
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'ppprof';
SELECT extensions.pp_ingest('{"operation_name": "root", "duration_ms": 12.5}', 'q1') IS NOT NULL AS stored;
SELECT query_id, total_duration_ms FROM extensions.performance_profiles;
ALTER EXTENSION ppprof SET SCHEMA public;
DROP EXTENSION ppprof;
DROP SCHEMA extensions;

-- the first schema of search_path by default
CREATE SCHEMA app;
SET search_path = app, public;
CREATE EXTENSION ppprof;
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'ppprof';
DROP EXTENSION ppprof;
RESET search_path;
DROP SCHEMA app;
