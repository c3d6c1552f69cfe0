--
-- sql/src/privileges.sql -- row level security and the grants
-- (docs/security.md)
--
-- Row level security on every table, with no policy: only the owner and
-- roles with BYPASSRLS (Supabase's service_role) see rows.
--

ALTER TABLE @extschema@.performance_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_bottlenecks ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_thresholds ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.operation_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.operation_dimensions ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.optimization_catalog ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.usage_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.model_prices ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_baseline_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_alert_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.operation_attribute_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_otlp_traces ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_otlp_spans ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_rollup_stale ENABLE ROW LEVEL SECURITY;

--
-- Privileges, from a clean slate.  Default privileges (Supabase's give
-- anon, authenticated and service_role ALL on every new table, sequence
-- and function) would leave service_role with TRIGGER, TRUNCATE and
-- REFERENCES, and a trigger of its own on a ppprof table would run as the
-- owner in the owner's jobs.  Every privilege of PUBLIC, anon,
-- authenticated and service_role on every relation and function of the
-- extension is revoked, then exactly the grants of docs/security.md are
-- made; nothing is executable by PUBLIC.  The roles are Supabase's, and
-- each is handled only where it exists.
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
            @extschema@.operation_dimensions,
            @extschema@.optimization_catalog, @extschema@.usage_keys,
            @extschema@.model_prices, @extschema@.performance_snapshots,
            @extschema@.performance_baselines, @extschema@.performance_baseline_operations,
            @extschema@.performance_alert_rules, @extschema@.performance_alerts,
            @extschema@.operation_attribute_categories,
            @extschema@.performance_otlp_traces, @extschema@.performance_otlp_spans
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
            @extschema@.pp_path_stats(interval), @extschema@.pp_range_path_stats(tstzrange),
            @extschema@.pp_folded(interval), @extschema@.pp_dimension_stats(interval, text),
            @extschema@.pp_range_dimension_stats(tstzrange, text),
            @extschema@.pp_compare_values(tstzrange, text, text, text),
            @extschema@.pp_trends(interval, interval), @extschema@.pp_trend_summary(interval),
            @extschema@.pp_optimization_report(interval, text, text), @extschema@.pp_bottlenecks(interval),
            @extschema@.pp_detect_bottlenecks(interval), @extschema@.pp_info(),
            @extschema@.pp_profile_usage(jsonb, timestamptz),
            @extschema@.pp_snapshots(interval), @extschema@.pp_baseline_check(text, interval, integer, text, text)
            TO service_role;
        -- OpenTelemetry ingest, like pp_ingest: the receiver runs as the
        -- application's role.  pp_ingest_otlp runs as its caller, so the
        -- functions it calls are granted too; none of them does more than
        -- service_role's grants on the tables already allow.
        GRANT EXECUTE ON FUNCTION
            @extschema@.pp_ingest_otlp(jsonb), @extschema@.pp_otlp_flush(interval),
            @extschema@.pp_otlp_decode(jsonb),
            @extschema@.pp_otlp_build(text[], text[], bigint[], jsonb[], boolean),
            @extschema@.pp_otlp_store(text, boolean)
            TO service_role;
        -- flame graphs and exports: read functions, like pp_operation_stats
        GRANT EXECUTE ON FUNCTION
            @extschema@.pp_flamegraph(uuid), @extschema@.pp_flamegraph(interval),
            @extschema@.pp_flamegraph_diff(tstzrange, tstzrange),
            @extschema@.pp_speedscope(uuid), @extschema@.pp_chrome_trace(uuid)
            TO service_role;
        -- rollups: read only; pp_rollup() writes them as the owner
        GRANT SELECT ON @extschema@.performance_rollups,
            @extschema@.performance_rollup_stale TO service_role;
        GRANT EXECUTE ON FUNCTION @extschema@.pp_rollup_contents(bytea) TO service_role;
    END IF;
END;
$$;
