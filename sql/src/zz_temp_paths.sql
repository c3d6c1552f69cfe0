--
-- sql/src/zz_temp_paths.sql -- TEMPORARY stand-in for pp_path_stats and
-- pp_range_path_stats (docs: the contract of issues 19 and 20), so that the
-- window and differential flame graphs (visualize.sql) can be built and
-- tested on branch h-viz before helper "paths" delivers the real, bounded
-- implementation.  Exact and unbounded: every profile of the range is
-- walked by pp_analyze_profile.  To be dropped at the merge, with its line
-- in the Makefile and its grants in privileges.sql.
--

CREATE FUNCTION @extschema@.pp_range_path_stats(range tstzrange)
RETURNS TABLE (path text, path_array text[], depth int, operation text,
               operation_type text, calls bigint, errors bigint,
               total_ms float, self_ms float, avg_ms float)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE nodes AS (
        SELECT p.id, a.node, a.parent, a.operation, a.operation_type,
               a.duration_ms, a.self_ms, a.failed
          FROM @extschema@.performance_profiles p,
               LATERAL @extschema@.pp_analyze_profile(p.profile_data) a
         WHERE range OPERATOR(pg_catalog.@>) p.created_at
    ), walk AS (
        SELECT n.id, n.node, ARRAY[n.operation] AS path_array, n.operation,
               n.operation_type, n.duration_ms, n.self_ms, n.failed
          FROM nodes n
         WHERE n.parent IS NULL
        UNION ALL
        SELECT c.id, c.node, w.path_array OPERATOR(pg_catalog.||) c.operation,
               c.operation, c.operation_type, c.duration_ms, c.self_ms, c.failed
          FROM nodes c
          JOIN walk w ON c.id OPERATOR(pg_catalog.=) w.id
                     AND c.parent OPERATOR(pg_catalog.=) w.node
    )
    SELECT pg_catalog.array_to_string(w.path_array, ';'), w.path_array,
           pg_catalog.cardinality(w.path_array), min(w.operation), min(w.operation_type),
           count(*), count(*) FILTER (WHERE w.failed),
           sum(w.duration_ms), sum(w.self_ms), avg(w.duration_ms)
      FROM walk w
     GROUP BY w.path_array
     ORDER BY w.path_array
$$;
COMMENT ON FUNCTION @extschema@.pp_range_path_stats(tstzrange) IS
    'TEMPORARY exact stand-in (branch h-viz): statistics per call path of the profiles created in a range';

CREATE FUNCTION @extschema@.pp_path_stats("window" interval DEFAULT '24 hours')
RETURNS TABLE (path text, path_array text[], depth int, operation text,
               operation_type text, calls bigint, errors bigint,
               total_ms float, self_ms float, avg_ms float)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.pp_range_path_stats(
        pg_catalog.tstzrange(pg_catalog.now() OPERATOR(pg_catalog.-) "window",
                             pg_catalog.now(), '[]'))
$$;
COMMENT ON FUNCTION @extschema@.pp_path_stats(interval) IS
    'TEMPORARY exact stand-in (branch h-viz): statistics per call path of the profiles created in [now() - window, now()]';
