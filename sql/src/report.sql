--
-- sql/src/report.sql -- the optimization engine (src/report.c): the
-- report, its bottlenecks as rows, and their record in
-- performance_bottlenecks
--

CREATE FUNCTION @extschema@.pp_optimization_report("window" interval DEFAULT '24 hours',
                                                   baseline text DEFAULT NULL,
                                                   rank_by text DEFAULT 'time')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_optimization_report'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_optimization_report(interval, text, text) IS
    'What changed (against the previous window or a named baseline), where the time goes, bottlenecks by impact (or by cost: rank_by => ''cost''), prioritised optimizations and patterns of the profiles created in [now() - window, now()]';

CREATE FUNCTION @extschema@.pp_bottlenecks("window" interval DEFAULT '24 hours')
RETURNS TABLE (operation text, operation_type text, impact_score float, priority text,
               calls bigint, avg_ms float, p95_ms float, p99_ms float,
               threshold_ms float, share_of_total_pct float, self_ms float,
               patterns text[], optimizations jsonb, reason text, via text)
AS 'MODULE_PATHNAME', 'pp_bottlenecks'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_bottlenecks(interval) IS
    'The bottlenecks of pp_optimization_report as rows, by impact';

CREATE FUNCTION @extschema@.pp_detect_bottlenecks("window" interval DEFAULT '1 hour')
RETURNS integer
AS 'MODULE_PATHNAME', 'pp_detect_bottlenecks'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_detect_bottlenecks(interval) IS
    'Writes one row per bottleneck of the window into performance_bottlenecks; returns how many';
