-- report: pp_optimization_report, pp_bottlenecks, pp_detect_bottlenecks on
-- profiles built to show each pattern
CREATE EXTENSION ppprof;

-- the report of an empty window is valid, with zeros
SELECT pp_optimization_report('1 hour') - 'summary'::text - 'compared_with'::text AS report;
SELECT (pp_optimization_report('1 hour')->'compared_with') - 'start'::text - 'end'::text AS compared_with;
SELECT (pp_optimization_report('1 hour')->'summary') - 'generated_at'::text - 'window_start'::text AS summary;

-- n(name, ms [, children [, start, end [, error]]])
CREATE FUNCTION n(name text, ms float8, kids jsonb DEFAULT '[]', t0 float8 DEFAULT NULL,
                  t1 float8 DEFAULT NULL, err text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('operation_name', name, 'duration_ms', ms,
           'children', kids, 'start_time', t0, 'end_time', t1, 'error', err))
$$;

-- 200 requests over the last two hours:
--   fetch_chunks calls db_get five times in a row (n_plus_one);
--   retrieve runs vector_search then keyword_search, one after the other
--   (parallelizable);
--   openai_chat is over its 2000 ms threshold one time in four
--   (threshold_breach) and fails one time in ten (error_prone);
--   rerank has a long tail; cache_get slows down in the newer hour
--   (degrading)
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'r' || g,
       n('rag', 3000, jsonb_build_array(
           n('cache_get', CASE WHEN g <= 100 THEN 10 + g % 5 ELSE 40 + g % 5 END),
           n('fetch_chunks', 260, (SELECT jsonb_agg(n('db_get', 50)) FROM generate_series(1, 5))),
           n('retrieve', 400, jsonb_build_array(
               n('vector_search', 250, '[]', 100.0, 100.25),
               n('keyword_search', 140, '[]', 100.25, 100.39)), 100.0, 100.4),
           n('rerank', CASE WHEN g % 25 = 0 THEN 900 ELSE 30 + g % 7 END),
           n('openai_chat', CASE WHEN g % 4 = 0 THEN 2600 ELSE 1500 END, '[]', NULL, NULL,
             CASE WHEN g % 10 = 0 THEN 'RateLimitError' END))),
       now() - interval '2 hours' + g * interval '35 seconds'
  FROM generate_series(1, 200) g;

SELECT (pp_optimization_report('2 hours')->'summary') - 'generated_at'::text - 'window_start'::text AS summary;
SELECT operation, operation_type, impact_score, priority, calls, round(avg_ms::numeric, 3) AS avg_ms,
       round(p95_ms::numeric) AS p95, threshold_ms, round(share_of_total_pct::numeric, 2) AS share_pct,
       round(self_ms::numeric, 3) AS self_ms, patterns
  FROM pp_bottlenecks('2 hours');
SELECT p->>'pattern' AS pattern, p->>'operation' AS operation,
       CASE WHEN p->>'pattern' = 'degrading'
            THEN jsonb_build_object('ratio_above_3', (p->'evidence'->>'ratio')::float8 > 3,
                                    't_above_10', (p->'evidence'->>'welch_t')::float8 > 10)
            ELSE p->'evidence' END AS evidence,
       jsonb_array_length(p->'example_profile_ids') AS examples
  FROM jsonb_array_elements(pp_optimization_report('2 hours')->'patterns') p
 ORDER BY 1, 2;
SELECT s->>'operation' AS operation, s->>'source' AS source, s->>'measure' AS measure, s->>'suggestion' AS suggestion,
       s->>'priority' AS priority, s->>'effort_estimate' AS effort, s->'expected_improvement' AS gain
  FROM jsonb_array_elements(pp_optimization_report('2 hours')->'optimization_priorities') s
 LIMIT 8;
-- every example is a real profile of the window
SELECT count(*) AS examples, count(p.id) AS found
  FROM jsonb_array_elements(pp_optimization_report('2 hours')->'patterns') x,
       jsonb_array_elements_text(x->'example_profile_ids') e
  LEFT JOIN performance_profiles p ON p.id = e::uuid;

-- the same report from the table alone (example profiles may differ among
-- equally slow ones)
CREATE FUNCTION numbers(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'summary', (r->'summary') - 'generated_at'::text - 'window_start'::text - 'source'::text,
    'top_bottlenecks', r->'top_bottlenecks',
    'optimization_priorities', r->'optimization_priorities',
    'patterns', (SELECT jsonb_agg(p - 'example_profile_ids'::text) FROM jsonb_array_elements(r->'patterns') p))
$$;
CREATE TEMP TABLE live AS
SELECT w, pp_optimization_report(w) AS r
  FROM unnest(ARRAY['2 hours', '90 minutes', '4 hours']::interval[]) w;
SELECT pp_reset();
SELECT w, numbers(r) = numbers(pp_optimization_report(w)) AS same_numbers,
       pp_optimization_report(w)->'summary'->>'source' AS source
  FROM live;
SELECT pp_rebuild();

-- pp_detect_bottlenecks writes one row per bottleneck
SELECT pp_detect_bottlenecks('2 hours');
SELECT operation, operation_type, occurrence_count, impact_score,
       jsonb_array_length(suggested_optimizations) > 0 AS suggested
  FROM performance_bottlenecks ORDER BY impact_score DESC, operation;

-- operation names cannot break the JSON of the report
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'evil', n(E'x", "injected": true, "y": "\\', 5000)
  FROM generate_series(1, 3);
SELECT b->>'operation' AS operation, b ? 'injected' AS injected
  FROM jsonb_array_elements(pp_optimization_report('1 hour')->'top_bottlenecks') b
 WHERE b->>'operation' LIKE 'x%';

SELECT pp_optimization_report('-1 hour');
DROP EXTENSION ppprof;
