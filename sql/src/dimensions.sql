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
               total_ms float)
AS 'MODULE_PATHNAME', 'pp_dimension_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_dimension_stats(interval, text) IS
    'Per (operation, value of a declared dimension) statistics of the profiles created in [now() - window, now()]; values beyond ppprof.max_dimension_values fold into one row per operation';
