--
-- sql/src/paths.sql -- statistics per call path (src/paths.c): the paths
-- root -> ... -> node of a window or a time range, and the same as folded
-- stacks for flame graph tools (docs/statistics.md, "Call paths")
--

CREATE FUNCTION @extschema@.pp_path_stats("window" interval DEFAULT '24 hours')
RETURNS TABLE (path text, path_array text[], depth int, operation text,
               operation_type text, calls bigint, errors bigint,
               total_ms float, self_ms float, avg_ms float)
AS 'MODULE_PATHNAME', 'pp_path_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_path_stats(interval) IS
    'Per-call-path statistics of the profiles created in [now() - window, now()], in path_array order, the fold row (depth 0) last';

CREATE FUNCTION @extschema@.pp_range_path_stats(range tstzrange)
RETURNS TABLE (path text, path_array text[], depth int, operation text,
               operation_type text, calls bigint, errors bigint,
               total_ms float, self_ms float, avg_ms float)
AS 'MODULE_PATHNAME', 'pp_range_path_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_range_path_stats(tstzrange) IS
    'pp_path_stats for the profiles created in a time range';

CREATE FUNCTION @extschema@.pp_folded("window" interval DEFAULT '24 hours')
RETURNS text
AS 'MODULE_PATHNAME', 'pp_folded'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_folded(interval) IS
    'Folded stacks of the window (one line per call path: "a;b;c <self microseconds>"), for flamegraph.pl and speedscope';
