--
-- sql/src/dimensions.sql -- statistics sliced by a dimension (src/dimensions.c):
-- per operation and value of a metadata key declared in operation_dimensions
-- (docs/statistics.md, "Dimensions")
--

CREATE FUNCTION @extschema@.pp_dimension_stats("window" interval DEFAULT '24 hours',
                                               dimension text DEFAULT 'model')
RETURNS TABLE (operation text, operation_type text, dimension_value text,
               folded boolean, calls bigint, errors bigint, error_rate float,
               avg_ms float, p50_ms float, p95_ms float, p99_ms float,
               total_ms float, input_tokens bigint, output_tokens bigint,
               cost_usd float)
AS 'MODULE_PATHNAME', 'pp_dimension_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_dimension_stats(interval, text) IS
    'Per (operation, value of a declared dimension) statistics of the profiles created in [now() - window, now()]; values beyond ppprof.max_dimension_values fold into one row per operation';

CREATE FUNCTION @extschema@.pp_range_dimension_stats(range tstzrange,
                                                     dimension text DEFAULT 'model')
RETURNS TABLE (operation text, operation_type text, dimension_value text,
               folded boolean, calls bigint, errors bigint, error_rate float,
               avg_ms float, p50_ms float, p95_ms float, p99_ms float,
               total_ms float, input_tokens bigint, output_tokens bigint,
               cost_usd float)
AS 'MODULE_PATHNAME', 'pp_range_dimension_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_range_dimension_stats(tstzrange, text) IS
    'pp_dimension_stats for the profiles created in a time range';

CREATE FUNCTION @extschema@.pp_compare_values(range tstzrange, dimension text,
                                              before_value text, after_value text)
RETURNS TABLE (operation text, operation_type text,
               calls_before bigint, calls_after bigint,
               avg_before_ms float, avg_after_ms float, avg_change_pct float,
               p95_before_ms float, p95_after_ms float, p95_change_pct float,
               p99_before_ms float, p99_after_ms float, p99_change_pct float,
               error_rate_before float, error_rate_after float,
               error_rate_change_pts float,
               p_value float, prob_slower float, error_p_value float,
               verdict text)
AS 'MODULE_PATHNAME', 'pp_compare_values'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_compare_values(tstzrange, text, text, text) IS
    'pp_compare per operation between the nodes of a time range whose dimension value is before_value and those whose value is after_value';
