-- upgrade: ALTER EXTENSION ppprof UPDATE from 1.0 through 1.1 and 1.2 to
-- 1.3 keeps the data and the live statistics, and ends with exactly the
-- catalog of a fresh install: objects, function definitions and settings,
-- columns, constraints, indexes, triggers, comments, row level security,
-- policies and privileges -- under Supabase's default privileges, which
-- give every new object to anon, authenticated and service_role
CREATE ROLE anon NOLOGIN;
CREATE ROLE authenticated NOLOGIN;
CREATE ROLE service_role NOLOGIN BYPASSRLS;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

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

ALTER EXTENSION ppprof UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'ppprof';
SELECT pp_ingest_jsonl(E'{"operation_name": "rag", "duration_ms": 200}\n{"operation_name": "rag", "duration_ms": 300}');
SELECT operation, calls, avg_ms FROM pp_operation_stats('1 hour') ORDER BY 1;

-- two things 1.2 allowed: service_role put a trigger on a ppprof table (the
-- default privileges gave it TRIGGER), and an alert rule named with 8,000
-- characters made every pp_check_alerts() fail
CREATE SCHEMA svc AUTHORIZATION service_role;
SET ROLE service_role;
CREATE FUNCTION svc.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER planted AFTER INSERT ON performance_snapshots
    FOR EACH ROW EXECUTE FUNCTION svc.noop();
INSERT INTO performance_alert_rules (name, operation, metric, comparator, threshold)
VALUES (repeat('n', 8000), 'nothing', 'calls', '<', 1);
RESET ROLE;
SELECT count(*) FROM pp_check_alerts();
SELECT count(*) AS alerts FROM performance_alerts;

-- 1.3 shortens the name (keeping it unique) and reports the trigger
ALTER EXTENSION ppprof UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'ppprof';
SELECT char_length(name) AS name_length, right(name, 14) AS name_end FROM performance_alert_rules;
SELECT left(rule, 5) AS rule, operation, status FROM pp_check_alerts();
SELECT operation, calls, avg_ms FROM pp_operation_stats('1 hour') ORDER BY 1;
DROP SCHEMA svc CASCADE;

-- everything the catalog says about the extension's objects, one row each
-- (the triggers of foreign keys, named after their OIDs, are in their
-- constraints)
CREATE FUNCTION pg_temp.ppprof_catalog() RETURNS TABLE (kind text, item text)
LANGUAGE sql AS $$
WITH ext AS (SELECT e.oid FROM pg_extension e WHERE e.extname = 'ppprof'),
members AS (SELECT d.classid, d.objid FROM pg_depend d, ext
             WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
               AND d.deptype = 'e'),
rels AS (SELECT c.* FROM pg_class c JOIN members m ON m.objid = c.oid
          WHERE m.classid = 'pg_class'::regclass),
procs AS (SELECT p.* FROM pg_proc p JOIN members m ON m.objid = p.oid
           WHERE m.classid = 'pg_proc'::regclass)
SELECT 'object', pg_describe_object(m.classid, m.objid, 0) FROM members m
UNION ALL
SELECT 'function', format('%s: security definer %s, config %s, %s, body %s, comment %s',
                          p.oid::regprocedure, p.prosecdef, p.proconfig,
                          md5(pg_get_functiondef(p.oid)), md5(p.prosrc),
                          obj_description(p.oid, 'pg_proc'))
  FROM procs p
UNION ALL
SELECT 'relation', format('%s: kind %s, rls %s, forced %s, comment %s', c.oid::regclass,
                          c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                          obj_description(c.oid, 'pg_class'))
  FROM rels c
UNION ALL
SELECT 'column', format('%s.%s %s not null %s default %s comment %s', a.attrelid::regclass,
                        a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        pg_get_expr(ad.adbin, ad.adrelid), col_description(a.attrelid, a.attnum))
  FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
UNION ALL
SELECT 'constraint', format('%s %s: %s validated %s', co.conrelid::regclass, co.conname,
                            pg_get_constraintdef(co.oid), co.convalidated)
  FROM rels c JOIN pg_constraint co ON co.conrelid = c.oid
UNION ALL
SELECT 'index', pg_get_indexdef(i.indexrelid)
  FROM rels c JOIN pg_index i ON i.indrelid = c.oid
UNION ALL
SELECT 'trigger', pg_get_triggerdef(t.oid)
  FROM rels c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'policy', format('%s %s: %s to %s using %s check %s', po.polrelid::regclass, po.polname,
                        po.polcmd, po.polroles::regrole[], pg_get_expr(po.polqual, po.polrelid),
                        pg_get_expr(po.polwithcheck, po.polrelid))
  FROM rels c JOIN pg_policy po ON po.polrelid = c.oid
UNION ALL
SELECT 'privilege', format('%s: %s to %s by %s%s', o.name, a.privilege_type,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                           a.grantor::regrole, CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END)
  FROM (SELECT c.oid::regclass::text AS name, coalesce(c.relacl, acldefault('r', c.relowner)) AS acl
          FROM rels c
        UNION ALL
        SELECT p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner))
          FROM procs p) o
 CROSS JOIN LATERAL aclexplode(o.acl) a
UNION ALL
SELECT 'initial privileges', format('%s: %s %s', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
                                    ip.privtype, ip.initprivs)
  FROM pg_init_privs ip JOIN members m ON m.classid = ip.classoid AND m.objid = ip.objoid
UNION ALL
SELECT 'dumped', format('%s %s', e.extconfig::regclass[], e.extcondition)
  FROM pg_extension e JOIN ext ON ext.oid = e.oid
$$;

CREATE TEMP TABLE upgraded AS SELECT * FROM pg_temp.ppprof_catalog();
DROP EXTENSION ppprof;
CREATE EXTENSION ppprof;
CREATE TEMP TABLE fresh AS SELECT * FROM pg_temp.ppprof_catalog();
-- no difference either way
(SELECT 'upgraded only' AS side, * FROM upgraded EXCEPT ALL SELECT 'upgraded only', * FROM fresh)
UNION ALL
(SELECT 'fresh only', * FROM fresh EXCEPT ALL SELECT 'fresh only', * FROM upgraded)
ORDER BY 1, 2, 3;
-- what was compared
SELECT kind, count(*) FROM fresh GROUP BY 1 ORDER BY 1;
-- there is no version 0.9 to come from
DROP EXTENSION ppprof;
CREATE EXTENSION ppprof VERSION '0.9';

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
REVOKE USAGE ON SCHEMA public FROM anon, authenticated, service_role;
DROP ROLE anon, authenticated, service_role;
