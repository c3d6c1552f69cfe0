-- visualize: pp_flamegraph (a profile, a window), pp_flamegraph_diff,
-- pp_speedscope, pp_chrome_trace (docs/visualize.md).  Structure (XML,
-- widths, speedscope's schema, nesting) is checked by TAP 018_visualize.
CREATE EXTENSION ppprof;

-- A profile of 100 ms with hostile names: markup characters, a CDATA
-- end, non-ASCII; retrieval has two overlapping children (vector_search,
-- keyword_search) and a third after the first; the llm call failed; the
-- last 10 ms are uninstrumented.
INSERT INTO performance_profiles (id, query_id, created_at, profile_data) VALUES
('00000000-0000-0000-0000-0000000000a1', 'viz-a', '2026-01-01 00:00:00+00', '{
  "operation_name": "rag_pipeline", "start_time": 1000.000, "duration_ms": 100,
  "children": [
    {"operation_name": "cache<&\"]]>", "start_time": 1000.000, "duration_ms": 10},
    {"operation_name": "retrieval", "start_time": 1000.010, "duration_ms": 50, "children": [
      {"operation_name": "vector_search", "start_time": 1000.010, "duration_ms": 40},
      {"operation_name": "keyword_search", "start_time": 1000.012, "duration_ms": 20},
      {"operation_name": "rerank", "start_time": 1000.050, "duration_ms": 10}]},
    {"operation_name": "llm \u2713 \u65e5\u672c", "start_time": 1000.060, "duration_ms": 30,
     "error": "Rate<limit> & \"quota\""}]}');

-- no start times (the sequential fallback), a control character, a child
-- longer than its parent (clipped)
INSERT INTO performance_profiles (id, query_id, created_at, profile_data) VALUES
('00000000-0000-0000-0000-0000000000b2', 'viz-b', '2026-01-01 00:00:01+00', '{
  "operation_name": "seq", "duration_ms": 40,
  "children": [
    {"operation_name": "a", "duration_ms": 10},
    {"operation_name": "ctl\u0001x", "duration_ms": 5},
    {"operation_name": "c", "duration_ms": 50}]}');

CREATE FUNCTION frames(svg text)
RETURNS TABLE (id text, parent text, x numeric, y numeric, width numeric, label text)
LANGUAGE sql AS $$
    SELECT m[1], m[2], m[3]::numeric, m[4]::numeric, m[5]::numeric, m[6]
      FROM regexp_matches(svg,
        '<g class="frame" id="(f\d+)"(?: data-parent="(f\d+)")?[^>]*><title>[^<]*</title><rect x="([^"]+)" y="([^"]+)" width="([^"]+)"[^>]*/>(?:<text[^>]*>([^<]*)</text>)?</g>',
        'g') AS m
$$;

-- the timeline: x and width proportional to time (1180 px for 100 ms),
-- keyword_search one row below vector_search, rerank back on its row
SELECT * FROM frames(pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid));

-- names and errors escaped, nothing raw
WITH g AS (SELECT pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid) AS svg)
SELECT position('cache&lt;&amp;&quot;]]&gt;' IN svg) > 0 AS name_escaped,
       position('cache<' IN svg) = 0 AS no_raw_name,
       position(']]>' IN svg) = 0 AS no_cdata_end,
       position('llm &#x2713; &#x65E5;&#x672C;' IN svg) > 0 AS unicode_as_references,
       position('error: Rate&lt;limit&gt; &amp; &quot;quota&quot;' IN svg) > 0 AS error_escaped,
       svg ~ '^[\x01-\x7e\n]*$' AS ascii_only,
       position('<script' IN svg) = 0 AS no_script,
       position('href' IN svg) = 0 AS no_link,
       (regexp_match(svg, '<title>([^<]*)</title>'))[1] AS title,
       (regexp_match(svg, 'class="subtitle"[^>]*>([^<]*)<'))[1] AS subtitle
  FROM g;

-- a tooltip: duration, share, self time, start, error
SELECT (regexp_match(pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid),
        '<g class="frame" id="f5"[^>]*><title>([^<]*)</title>'))[1] AS tooltip;
SELECT (regexp_match(pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid),
        '<g class="frame" id="f3"[^>]*><title>([^<]*)</title>'))[1] AS tooltip;

-- sequential fallback, the control character replaced, c clipped to 40 ms
SELECT * FROM frames(pp_flamegraph('00000000-0000-0000-0000-0000000000b2'::uuid));
SELECT (regexp_match(svg, 'class="subtitle"[^>]*>([^<]*)<'))[1] AS subtitle,
       position('ctl&#xFFFD;x' IN svg) > 0 AS control_replaced,
       (regexp_match(svg, '<g class="frame" id="f3"[^>]*><title>([^<]*)</title>'))[1] AS tooltip
  FROM (SELECT pp_flamegraph('00000000-0000-0000-0000-0000000000b2'::uuid) AS svg) g;

-- speedscope: shared frames by name, one evented profile per track
WITH s AS (SELECT pp_speedscope('00000000-0000-0000-0000-0000000000a1') AS j)
SELECT j->>'$schema' AS schema, j->>'name' AS name, j->>'exporter' AS exporter,
       jsonb_array_length(j->'shared'->'frames') AS frames,
       jsonb_path_query_array(j, '$.profiles[*].name') AS profiles
  FROM s;
SELECT p.ord AS profile, e.ord AS event, e.ev->>'type' AS type,
       s.j->'shared'->'frames'->((e.ev->>'frame')::int)->>'name' AS frame, e.ev->'at' AS at
  FROM (SELECT pp_speedscope('00000000-0000-0000-0000-0000000000a1') AS j) s,
       jsonb_array_elements(s.j->'profiles') WITH ORDINALITY AS p(prof, ord),
       jsonb_array_elements(p.prof->'events') WITH ORDINALITY AS e(ev, ord)
 ORDER BY 1, 2;

-- Chrome: X events in microseconds, keyword_search on its own thread
SELECT e->>'ph' AS ph, e->>'name' AS name, e->'tid' AS tid, e->'ts' AS ts, e->'dur' AS dur,
       e->>'cat' AS cat, e->'args' AS args
  FROM jsonb_array_elements(pp_chrome_trace('00000000-0000-0000-0000-0000000000a1')->'traceEvents') AS e;
SELECT pp_chrome_trace('00000000-0000-0000-0000-0000000000a1') - 'traceEvents' AS rest;

-- errors: a missing profile (each function), NULL, a stored profile that is
-- not valid, one over a limit lowered since
SELECT pp_flamegraph('00000000-0000-0000-0000-000000000000'::uuid);
SELECT pp_speedscope('00000000-0000-0000-0000-000000000000');
SELECT pp_chrome_trace('00000000-0000-0000-0000-000000000000');
SELECT pp_flamegraph(NULL::uuid) IS NULL AS strict;
SET ppprof.enabled = off;
INSERT INTO performance_profiles (id, query_id, created_at, total_duration_ms, profile_data) VALUES
('00000000-0000-0000-0000-0000000000c3', 'viz-c', '2026-01-01 00:00:02+00', 1,
 '{"operation_name": "", "duration_ms": 1}');
RESET ppprof.enabled;
SELECT pp_flamegraph('00000000-0000-0000-0000-0000000000c3'::uuid);
DELETE FROM performance_profiles WHERE id = '00000000-0000-0000-0000-0000000000c3';
SET ppprof.max_depth = 2;
SELECT pp_speedscope('00000000-0000-0000-0000-0000000000a1');
RESET ppprof.max_depth;

-- read as the caller: row level security hides the row, a policy shows it
CREATE ROLE viz_reader;
GRANT SELECT ON performance_profiles TO viz_reader;
GRANT EXECUTE ON FUNCTION pp_flamegraph(uuid), pp_chrome_trace(uuid) TO viz_reader;
SET ROLE viz_reader;
SELECT pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid);
RESET ROLE;
CREATE POLICY viz_read ON performance_profiles FOR SELECT TO viz_reader
    USING (query_id = 'viz-a');
SET ROLE viz_reader;
SELECT length(pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid)) > 0 AS visible;
SELECT pp_chrome_trace('00000000-0000-0000-0000-0000000000b2');
RESET ROLE;
DROP POLICY viz_read ON performance_profiles;
REVOKE ALL ON performance_profiles FROM viz_reader;
REVOKE ALL ON FUNCTION pp_flamegraph(uuid), pp_chrome_trace(uuid) FROM viz_reader;
DROP ROLE viz_reader;

-- The window graph: empty, then three profiles of the last hour merged by
-- path (rag_pipeline twice, each retrieval's children scaled to fit it)
SELECT (regexp_match(svg, '<title>([^<]*)</title>'))[1] AS title,
       position('No profile in the window.' IN svg) > 0 AS says_empty
  FROM (SELECT pp_flamegraph('1 hour'::interval) AS svg) g;
INSERT INTO performance_profiles (query_id, created_at, profile_data)
SELECT 'viz-w' || i, now() - '10 minutes'::interval,
       jsonb_set(profile_data, '{children,1,duration_ms}', to_jsonb(50 + 10 * i))
  FROM performance_profiles, generate_series(0, 2) AS i
 WHERE id = '00000000-0000-0000-0000-0000000000a1';
SELECT path, calls, errors, total_ms FROM pp_path_stats('1 hour') ORDER BY path_array;
SELECT f.*, (regexp_match(svg, '<title>([^<]*)</title>'))[1] AS title
  FROM (SELECT pp_flamegraph('1 hour'::interval) AS svg) g, frames(svg) f;
SELECT (regexp_match(pp_flamegraph('1 hour'::interval),
        '<g class="frame" id="f6"[^>]*><title>([^<]*)</title>'))[1] AS tooltip;

-- The difference: the first profile before, the three after
SELECT f.id, f.parent, f.width, f.label,
       (regexp_match(svg, '<title>([^<]*)</title>'))[1] AS title
  FROM (SELECT pp_flamegraph_diff(tstzrange('2025-12-31', '2026-01-01 00:00:00.5+00'),
                                  tstzrange(now() - '1 hour'::interval, now())) AS svg) g,
       frames(svg) f;
SELECT (regexp_match(pp_flamegraph_diff(tstzrange('2025-12-31', '2026-01-01 00:00:00.5+00'),
                                        tstzrange(now() - '1 hour'::interval, now())),
        '<g class="frame" id="f2"[^>]*><title>([^<]*)</title>'))[1] AS tooltip;
SELECT position('No profile in either range.' IN
                pp_flamegraph_diff(tstzrange('2000-01-01', '2000-01-02'),
                                   tstzrange('2000-01-02', '2000-01-03'))) > 0 AS says_empty;

-- search_path: planted operators and a planted pp_path_stats never run
CREATE SCHEMA trap;
CREATE FUNCTION trap.uuid_eq(uuid, uuid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'planted = ran'; RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR trap.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = trap.uuid_eq);
CREATE FUNCTION trap.pp_path_stats("window" interval)
RETURNS TABLE (path_array text[], operation_type text, calls bigint, errors bigint,
               total_ms float, self_ms float, avg_ms float)
LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'planted pp_path_stats ran'; END $$;
SET search_path = trap, public;
SELECT length(pp_flamegraph('00000000-0000-0000-0000-0000000000a1'::uuid)) > 0 AS profile,
       length(pp_flamegraph('1 hour'::interval)) > 0 AS "window",
       pp_speedscope('00000000-0000-0000-0000-0000000000a1') IS NOT NULL AS speedscope,
       pp_chrome_trace('00000000-0000-0000-0000-0000000000a1') IS NOT NULL AS chrome;
RESET search_path;
DROP SCHEMA trap CASCADE;

DROP FUNCTION frames(text);
DROP EXTENSION ppprof;
