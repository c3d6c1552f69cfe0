--
-- sql/src/stats.sql -- the live statistics (src/stats.c, src/window.c):
-- per-operation statistics of a window or a time range, samples, the
-- before/after comparison, trends, and the administration of the shared
-- statistics
--

CREATE FUNCTION @extschema@.pp_operation_stats("window" interval DEFAULT '24 hours')
RETURNS TABLE (operation text, operation_type text, calls bigint, errors bigint,
               error_rate float, avg_ms float, stddev_ms float, min_ms float,
               p50_ms float, p95_ms float, p99_ms float, max_ms float,
               total_ms float, self_avg_ms float, self_total_ms float,
               first_seen timestamptz, last_seen timestamptz,
               input_tokens bigint, output_tokens bigint, cost_usd float,
               ttft_p50_ms float, ttft_p95_ms float)
AS 'MODULE_PATHNAME', 'pp_operation_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_operation_stats(interval) IS
    'Per-operation statistics of the profiles created in [now() - window, now()], most total time first';

CREATE FUNCTION @extschema@.pp_operation_samples(operation text)
RETURNS TABLE (duration_ms float, self_ms float, profile_id uuid, created_at timestamptz)
AS 'MODULE_PATHNAME', 'pp_operation_samples'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_operation_samples(text) IS
    'The reservoir of sample occurrences of an operation, slowest first, with their profile ids';

CREATE FUNCTION @extschema@.pp_range_stats(range tstzrange)
RETURNS TABLE (operation text, operation_type text, calls bigint, errors bigint,
               error_rate float, avg_ms float, stddev_ms float, min_ms float,
               p50_ms float, p95_ms float, p99_ms float, max_ms float,
               total_ms float, self_avg_ms float, self_total_ms float,
               first_seen timestamptz, last_seen timestamptz,
               cache_lookups bigint, cache_hit_rate float,
               input_tokens bigint, output_tokens bigint, cost_usd float,
               ttft_p50_ms float, ttft_p95_ms float)
AS 'MODULE_PATHNAME', 'pp_range_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_range_stats(tstzrange) IS
    'pp_operation_stats for the profiles created in a time range, with a first row (operation NULL) for the profiles themselves';

CREATE FUNCTION @extschema@.pp_compare(before tstzrange, after tstzrange)
RETURNS TABLE (operation text, operation_type text,
               calls_before bigint, calls_after bigint,
               avg_before_ms float, avg_after_ms float, avg_change_pct float,
               p95_before_ms float, p95_after_ms float, p95_change_pct float,
               p99_before_ms float, p99_after_ms float, p99_change_pct float,
               error_rate_before float, error_rate_after float,
               error_rate_change_pts float,
               p_value float, prob_slower float, error_p_value float,
               verdict text)
AS 'MODULE_PATHNAME', 'pp_compare'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_compare(tstzrange, tstzrange) IS
    'Before/after comparison per operation: deltas of avg/p95/p99/error rate, Mann-Whitney and two-proportion tests, a verdict at the 5% level';

CREATE FUNCTION @extschema@.pp_trends("window" interval DEFAULT '7 days',
                                      bucket interval DEFAULT '1 hour')
RETURNS TABLE (bucket_start timestamptz, operation text, operation_type text,
               calls bigint, errors bigint, error_rate float, avg_ms float,
               p50_ms float, p95_ms float, p99_ms float, cache_hit_rate float)
AS 'MODULE_PATHNAME', 'pp_trends'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_trends(interval, interval) IS
    'Time series per operation (and for the profiles, operation NULL): one row per bucket with calls';

CREATE FUNCTION @extschema@.pp_trend_summary("window" interval DEFAULT '7 days')
RETURNS TABLE (operation text, operation_type text, points integer, calls bigint,
               p95_start_ms float, p95_end_ms float, slope_ms_per_day float,
               slope_pct_per_day float, kendall_tau float, p_value float,
               threshold_ms float, trend text, regression boolean,
               threshold_crossing_at timestamptz)
AS 'MODULE_PATHNAME', 'pp_trend_summary'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_trend_summary(interval) IS
    'Theil-Sen slope of each operation''s hourly p95 with a Mann-Kendall test, a regression flag and when p95 reaches the threshold at that slope';

CREATE FUNCTION @extschema@.pp_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pp_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_reset() IS
    'Forgets the shared statistics of this database (not the table); answers come from the table until pp_rebuild()';

CREATE FUNCTION @extschema@.pp_rebuild()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_rebuild'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_rebuild() IS
    'Recomputes the shared statistics of this database from performance_profiles; returns the profiles read';

CREATE FUNCTION @extschema@.pp_info()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_info() IS
    'The profiler''s own state: whether statistics are live or read from the table, memory, evictions';

CREATE FUNCTION @extschema@.pp_profile_usage(profile jsonb,
                                             at timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (node integer, operation_name text, model text, provider text,
               input_tokens float8, output_tokens float8, total_tokens float8,
               cost_usd float8, cost_source text, time_to_first_token_ms float8,
               ignored_values integer)
AS 'MODULE_PATHNAME', 'pp_profile_usage'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_profile_usage(jsonb, timestamptz) IS
    'What usage_keys read in each node''s metadata (tokens, cost, model, time to first token) and its cost at a time, by model_prices';

CREATE FUNCTION @extschema@.pp_stats_created()
RETURNS void
AS 'MODULE_PATHNAME', 'pp_stats_created'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_stats_created() IS
    'Starts empty, exact statistics for the new table (called by CREATE EXTENSION)';
