--
-- sql/src/visualize.sql -- flame graphs and exports (docs/visualize.md)
--
-- The functions of one profile read its row as their caller, like a
-- SELECT (row level security applies); the window and differential flame
-- graphs read pp_path_stats / pp_range_path_stats as their caller.
--

CREATE FUNCTION @extschema@.pp_flamegraph(profile_id uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'pp_flamegraph_profile'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_flamegraph(uuid) IS
    'A profile as a self-contained SVG flame graph on its own timeline: children at their start times, parallel children in separate rows';

CREATE FUNCTION @extschema@.pp_flamegraph("window" interval)
RETURNS text
AS 'MODULE_PATHNAME', 'pp_flamegraph_window'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_flamegraph(interval) IS
    'The profiles created in [now() - window, now()] merged by call path, as a self-contained SVG flame graph; width: total time';

CREATE FUNCTION @extschema@.pp_flamegraph_diff(before tstzrange, after tstzrange)
RETURNS text
AS 'MODULE_PATHNAME', 'pp_flamegraph_diff'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_flamegraph_diff(tstzrange, tstzrange) IS
    'Differential SVG flame graph of the call paths of two ranges: red slower, blue faster, by the change of the average time per profile';

CREATE FUNCTION @extschema@.pp_speedscope(profile_id uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_speedscope'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_speedscope(uuid) IS
    'A profile in speedscope''s file format: evented profiles, one per row of parallel operations, shared frames';

CREATE FUNCTION @extschema@.pp_chrome_trace(profile_id uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_chrome_trace'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_chrome_trace(uuid) IS
    'A profile in the Trace Event Format (chrome://tracing, Perfetto): complete "X" events in microseconds, parallel operations on separate threads';
