-- test/gen/demo_report.sql -- the result that "make demo" prints.
--
-- A psql script over the profiles of the last :window (default 24 hours):
-- the profiles' figures, the live statistics, the bottlenecks and
-- suggestions stored with each profile, and one example profile node by
-- node.  The optimization report follows, rendered for people by the
-- ppprof command (test/gen/demo.sh).

\if :{?window}
\else
\set window '24 hours'
\endif
\pset footer off
\pset null '-'

\echo
\echo 'Profiles of the last' :window
SELECT count(*) AS profiles,
       round(avg(total_duration_ms)::numeric, 1) AS avg_ms,
       round((percentile_cont(0.50) WITHIN GROUP (ORDER BY total_duration_ms))::numeric, 1) AS p50_ms,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY total_duration_ms))::numeric, 1) AS p95_ms,
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY total_duration_ms))::numeric, 1) AS p99_ms,
       count(*) FILTER (WHERE bottleneck_operations <> '[]') AS with_bottlenecks
  FROM performance_profiles
 WHERE created_at >= now() - :'window'::interval;

\echo
\echo 'Live statistics per operation (pp_operation_stats, from shared memory)'
SELECT operation, operation_type, calls, errors,
       round(avg_ms::numeric, 1) AS avg_ms,
       round(p50_ms::numeric, 1) AS p50_ms,
       round(p95_ms::numeric, 1) AS p95_ms,
       round(p99_ms::numeric, 1) AS p99_ms,
       round(self_avg_ms::numeric, 1) AS self_avg_ms,
       round((total_ms / 1000)::numeric, 1) AS total_s
  FROM pp_operation_stats(:'window'::interval);
SELECT pp_info()->>'statistics' AS statistics,
       pg_size_pretty((pp_info()->>'shared_memory_bytes')::bigint) AS shared_memory;

\echo
\echo 'Bottlenecks per operation type (nodes above their threshold)'
SELECT b->>'operation_type' AS operation_type,
       count(*) AS occurrences,
       count(DISTINCT p.id) AS profiles,
       round(avg((b->>'duration_ms')::float8)::numeric, 1) AS avg_ms,
       round(max((b->>'duration_ms')::float8)::numeric, 1) AS max_ms,
       string_agg(DISTINCT (b->>'threshold_ms'), ', ') AS threshold_ms,
       string_agg(DISTINCT b->>'operation', ', ') AS operations
  FROM performance_profiles p,
       jsonb_array_elements(p.bottleneck_operations) AS b
 WHERE p.created_at >= now() - :'window'::interval
 GROUP BY 1
 ORDER BY occurrences DESC, operation_type;

\echo
\echo 'Top suggestions (how many profiles they apply to)'
SELECT s->>'operation_type' AS operation_type,
       s->>'suggestion' AS suggestion,
       s->>'effort' AS effort,
       (s->>'expected_reduction_pct')::float8 AS expected_reduction_pct,
       count(*) AS profiles
  FROM performance_profiles p,
       jsonb_array_elements(p.optimization_suggestions) AS s
 WHERE p.created_at >= now() - :'window'::interval
 GROUP BY 1, 2, 3, 4
 ORDER BY profiles DESC, expected_reduction_pct DESC, suggestion
 LIMIT 10;

\echo
\echo 'Example: the most recent profile with the most bottlenecks, node by node (pp_analyze_profile)'
SELECT query_id, created_at,
       format('query_id %s, %s ms, stored at %s, %s bottleneck(s)', query_id,
              round(total_duration_ms::numeric, 1), created_at,
              jsonb_array_length(bottleneck_operations)) AS title
  FROM performance_profiles
 WHERE created_at >= now() - :'window'::interval
 ORDER BY jsonb_array_length(bottleneck_operations) DESC, created_at DESC
 LIMIT 1 \gset example_
\echo :example_title
SELECT a.node, repeat('  ', a.depth - 1) || a.operation AS operation, a.operation_type,
       round(a.duration_ms::numeric, 1) AS duration_ms,
       round(a.self_ms::numeric, 1) AS self_ms,
       a.threshold_ms,
       CASE WHEN a.is_bottleneck THEN 'BOTTLENECK' ELSE '' END AS bottleneck,
       CASE WHEN a.failed THEN 'failed' ELSE '' END AS error
  FROM performance_profiles p,
       pp_analyze_profile(p.profile_data) AS a
 WHERE p.query_id = :'example_query_id'
   AND p.created_at = :'example_created_at'::timestamptz
 ORDER BY a.node;

