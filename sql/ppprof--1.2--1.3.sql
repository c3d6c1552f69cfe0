/* sql/ppprof--1.2--1.3.sql -- ppprof 1.3: the fixes of an outside audit
 * (privileges, search_path, alert notifications, quoted schemas) */

\echo Use "ALTER EXTENSION ppprof UPDATE TO '1.3'" to load this file. \quit

--
-- pp_snapshot runs as its caller.  It was SECURITY DEFINER so that its
-- counts of pg_stat_activity would not depend on the caller; but then a
-- role granted it ran, as the owner, the writes to performance_snapshots,
-- any trigger on that table, and a deletion whose reach its own
-- ppprof.snapshot_retention decides.  The owner, who runs the job, is a
-- superuser (ppprof is not a trusted extension) and sees every backend
-- anyway.  What keeps the owner's own job safe is below: no other role may
-- add a trigger (or a rule or policy, which only the owner may) to the table.
--

ALTER FUNCTION @extschema@.pp_snapshot() SECURITY INVOKER;
COMMENT ON FUNCTION @extschema@.pp_snapshot() IS
    'Captures, stores and returns a performance snapshot as the calling role; drops snapshots older than ppprof.snapshot_retention';

--
-- Privileges, from a clean slate.  Default privileges (Supabase's give
-- anon, authenticated and service_role ALL on every new table, sequence
-- and function) left service_role with TRIGGER, TRUNCATE and REFERENCES,
-- and each upgrade script revoked only some of what they gave.  Every
-- privilege of PUBLIC, anon, authenticated and service_role on every
-- relation and function of the extension is revoked, then exactly the
-- grants of docs/security.md are made.  Grants to other roles are kept.
--

DO $$
DECLARE
    obj text;
    r text;
    grantees text[] := ARRAY['PUBLIC'];
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            grantees := grantees || pg_catalog.quote_ident(r);
        END IF;
    END LOOP;

    FOR obj IN
        SELECT pg_catalog.format(CASE c.relkind WHEN 'S' THEN 'SEQUENCE %I.%I' ELSE 'TABLE %I.%I' END,
                                 n.nspname, c.relname)
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_class c ON c.oid = d.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'ppprof')
           AND d.deptype = 'e'
        UNION ALL
        SELECT pg_catalog.format('FUNCTION %I.%I(%s)', n.nspname, p.proname,
                                 pg_catalog.pg_get_function_identity_arguments(p.oid))
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_proc p ON p.oid = d.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'ppprof')
           AND d.deptype = 'e'
    LOOP
        FOREACH r IN ARRAY grantees LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s CASCADE', obj, r);
        END LOOP;
    END LOOP;

    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        -- the application's server side: reads and writes rows (no
        -- TRUNCATE, TRIGGER or REFERENCES)
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            @extschema@.performance_profiles, @extschema@.performance_bottlenecks,
            @extschema@.performance_thresholds, @extschema@.operation_categories,
            @extschema@.optimization_catalog, @extschema@.performance_snapshots,
            @extschema@.performance_baselines, @extschema@.performance_baseline_operations,
            @extschema@.performance_alert_rules, @extschema@.performance_alerts
            TO service_role;
        -- ingest, spans, and the read functions; not pp_time (it runs any
        -- statement it is given), nor administration and the jobs
        GRANT EXECUTE ON FUNCTION
            @extschema@.pp_ingest(jsonb, text), @extschema@.pp_ingest_batch(jsonb),
            @extschema@.pp_ingest_jsonl(text), @extschema@.pp_analyze_profile(jsonb),
            @extschema@.pp_begin(text, jsonb, text), @extschema@.pp_end(bigint, text),
            @extschema@.pp_spans(),
            @extschema@.pp_operation_stats(interval), @extschema@.pp_operation_samples(text),
            @extschema@.pp_range_stats(tstzrange), @extschema@.pp_compare(tstzrange, tstzrange),
            @extschema@.pp_trends(interval, interval), @extschema@.pp_trend_summary(interval),
            @extschema@.pp_optimization_report(interval), @extschema@.pp_bottlenecks(interval),
            @extschema@.pp_detect_bottlenecks(interval), @extschema@.pp_info(),
            @extschema@.pp_snapshots(interval), @extschema@.pp_baseline_check(text, interval, integer)
            TO service_role;
    END IF;
END;
$$;

--
-- Triggers that are not ppprof's on ppprof's tables: before 1.3 a role
-- with default privileges could create them, and a trigger runs with the
-- rights of whoever writes the table -- the owner's jobs included.  They
-- are reported, not dropped: only the administrator knows which are hers.
--

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT tg.tgname, n.nspname, c.relname, pg_catalog.pg_get_userbyid(p.proowner) AS fowner
          FROM pg_catalog.pg_trigger tg
          JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
          JOIN pg_catalog.pg_depend d ON d.objid = c.oid
               AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
               AND e.extname = 'ppprof'
         WHERE NOT tg.tgisinternal
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend f
                            WHERE f.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                              AND f.objid = tg.tgfoid
                              AND f.refobjid = e.oid
                              AND f.deptype = 'e')
         ORDER BY n.nspname, c.relname, tg.tgname
    LOOP
        RAISE WARNING 'trigger "%" on table %.% is not ppprof''s',
                      t.tgname, pg_catalog.quote_ident(t.nspname), pg_catalog.quote_ident(t.relname)
            USING DETAIL = pg_catalog.format('Its function belongs to role "%s". Before ppprof 1.3 roles with default privileges could create triggers on these tables, and a trigger runs with the rights of whoever writes the table, the owner''s jobs included.', t.fowner),
                  HINT = pg_catalog.format('Drop it unless you created it: DROP TRIGGER %I ON %I.%I;',
                                           t.tgname, t.nspname, t.relname);
    END LOOP;
END;
$$;
