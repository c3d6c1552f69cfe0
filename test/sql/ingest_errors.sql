-- ingest_errors: every validation rule, its SQLSTATE and message with the
-- JSON path, and proof that nothing was stored
CREATE EXTENSION ppprof;
SELECT pp_ingest('{"operation_name": "baseline", "duration_ms": 1}', 'baseline') IS NOT NULL AS stored;

-- A few errors in full, as a client sees them
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('q-bad', '{"operation_name": "r", "duration_ms": 1, "children": [{"operation_name": "a", "duration_ms": 1}, {"operation_name": "b", "children": [{"operation_name": "c", "duration_ms": "slow"}]}]}');
SELECT pp_ingest('[1, 2]');
SELECT pp_ingest_batch('[{"operation_name": "ok", "duration_ms": 1}, {"operation_name": "ok", "duration_ms": 1}, {"operation_name": "bad", "duration_ms": -5}]');
SELECT pp_ingest_batch('{"operation_name": "not an array", "duration_ms": 1}');
SELECT pp_ingest(NULL);
SELECT pp_ingest_batch(NULL);
-- pp_ingest_jsonl names the line (blank lines count), whether the profile is
-- invalid or the line is not JSON
SELECT pp_ingest_jsonl(E'{"operation_name": "ok", "duration_ms": 1}\n\n{"operation_name": "bad", "children": [{"operation_name": "c", "duration_ms": "slow"}]}');
SELECT pp_ingest_jsonl(E'{"operation_name": "ok", "duration_ms": 1}\n{"operation_name": "cut",');
SELECT pp_ingest_jsonl(E'{"operation_name": "ok", "duration_ms": 1}\n[{"operation_name": "in an array", "duration_ms": 1}]');
SELECT pp_ingest_jsonl(NULL);

-- Every rule, one input per line: SQLSTATE and message
CREATE FUNCTION try_ingest(p jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pp_ingest(p, 'q-try');
    RETURN 'stored';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || SQLERRM;
END;
$$;

SELECT input, try_ingest(input::jsonb) AS result FROM (VALUES
    -- root and nodes must be objects
    ('"just a string"'),
    ('42'),
    ('null'),
    ('[]'),
    ('{"operation_name": "r", "duration_ms": 1, "children": [1]}'),
    ('{"operation_name": "r", "duration_ms": 1, "children": [{"operation_name": "a", "duration_ms": 1}, []]}'),
    -- operation_name
    ('{"duration_ms": 1}'),
    ('{"operation_name": null, "duration_ms": 1}'),
    ('{"operation_name": 7, "duration_ms": 1}'),
    ('{"operation_name": "", "duration_ms": 1}'),
    ('{"operation_name": ["a"], "duration_ms": 1}'),
    -- start_time: a finite number when present, never null
    ('{"operation_name": "r", "duration_ms": 1, "start_time": null}'),
    ('{"operation_name": "r", "duration_ms": 1, "start_time": "2024-01-01"}'),
    ('{"operation_name": "r", "duration_ms": 1, "start_time": 1e400}'),
    -- end_time: a finite number or null, not before start_time
    ('{"operation_name": "r", "duration_ms": 1, "end_time": true}'),
    ('{"operation_name": "r", "duration_ms": 1, "start_time": 10, "end_time": 9}'),
    ('{"operation_name": "r", "duration_ms": 1, "end_time": -1e999}'),
    -- duration_ms: a finite number in [0, 1e9] or null, else start and end
    ('{"operation_name": "r", "duration_ms": "5"}'),
    ('{"operation_name": "r", "duration_ms": -0.001}'),
    ('{"operation_name": "r", "duration_ms": 1000000001}'),
    ('{"operation_name": "r", "duration_ms": 1e400}'),
    ('{"operation_name": "r"}'),
    ('{"operation_name": "r", "duration_ms": null}'),
    ('{"operation_name": "r", "start_time": 1}'),
    ('{"operation_name": "r", "start_time": 0, "end_time": 2e6}'),
    -- metadata: an object when present
    ('{"operation_name": "r", "duration_ms": 1, "metadata": [1]}'),
    ('{"operation_name": "r", "duration_ms": 1, "metadata": "m"}'),
    -- error: a string or null
    ('{"operation_name": "r", "duration_ms": 1, "error": {"type": "Timeout"}}'),
    ('{"operation_name": "r", "duration_ms": 1, "error": false}'),
    -- children: an array of objects
    ('{"operation_name": "r", "duration_ms": 1, "children": {}}'),
    ('{"operation_name": "r", "duration_ms": 1, "children": "none"}'),
    -- the path of a deep offender
    ('{"operation_name": "r", "duration_ms": 1, "children": [{"operation_name": "a", "duration_ms": 1}, {"operation_name": "b", "duration_ms": 1, "children": [{"operation_name": "c", "duration_ms": 1, "end_time": "x"}]}]}')
) AS t(input);

-- Accepted edge cases
SELECT input, try_ingest(input::jsonb) AS result FROM (VALUES
    ('{"operation_name": "r", "duration_ms": 0}'),
    ('{"operation_name": "r", "duration_ms": 1000000000}'),
    ('{"operation_name": "r", "duration_ms": 1, "children": null, "metadata": null, "error": null, "end_time": null}'),
    ('{"operation_name": "r", "start_time": 5, "end_time": 5}'),
    ('{"operation_name": "r", "duration_ms": 1, "error": "boom", "unknown_key": [1, {"x": null}]}')
) AS t(input);

-- operation_name length: ppprof.max_name_length bytes (multibyte counts bytes)
SELECT try_ingest(jsonb_build_object('operation_name', repeat('a', 200), 'duration_ms', 1));
SELECT try_ingest(jsonb_build_object('operation_name', repeat('a', 201), 'duration_ms', 1));
SELECT try_ingest(jsonb_build_object('operation_name', repeat('é', 101), 'duration_ms', 1));

-- depth: ppprof.max_depth (the root is depth 1)
CREATE FUNCTION nested(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    j jsonb := '{"operation_name": "leaf", "duration_ms": 1}';
BEGIN
    FOR i IN 2..depth LOOP
        j := jsonb_build_object('operation_name', 'n' || i, 'duration_ms', 1, 'children', jsonb_build_array(j));
    END LOOP;
    RETURN j;
END;
$$;
SELECT try_ingest(nested(100));
SELECT try_ingest(nested(101));
SELECT try_ingest(nested(3000));
-- a 100,000-deep document: PostgreSQL's own JSON parser refuses it (54001)
-- before ppprof sees it, and the server keeps running
SELECT try_ingest((repeat('{"operation_name": "n", "duration_ms": 1, "children": [', 100000)
                   || '{"operation_name": "leaf", "duration_ms": 1}' || repeat(']}', 100000))::jsonb);
SET ppprof.max_depth = 3;
SELECT try_ingest(nested(3));
SELECT try_ingest(nested(4));
RESET ppprof.max_depth;

-- nodes: ppprof.max_nodes
SELECT try_ingest(jsonb_build_object('operation_name', 'wide', 'duration_ms', 1, 'children',
       (SELECT jsonb_agg(jsonb_build_object('operation_name', 'c', 'duration_ms', 0)) FROM generate_series(1, 9999))));
SELECT try_ingest(jsonb_build_object('operation_name', 'wide', 'duration_ms', 1, 'children',
       (SELECT jsonb_agg(jsonb_build_object('operation_name', 'c', 'duration_ms', 0)) FROM generate_series(1, 10000))));
SET ppprof.max_nodes = 3;
SELECT try_ingest('{"operation_name": "r", "duration_ms": 1, "children": [{"operation_name": "a", "duration_ms": 1}, {"operation_name": "b", "duration_ms": 1, "children": [{"operation_name": "c", "duration_ms": 1}]}]}');
RESET ppprof.max_nodes;

-- the limits are for superusers to set
CREATE ROLE pp_regress_user;
SET ROLE pp_regress_user;
SET ppprof.max_nodes = 1000000;
RESET ROLE;
DROP ROLE pp_regress_user;

-- a plain INSERT of a bad profile, a NULL profile, a batch with one bad element
\set VERBOSITY terse
INSERT INTO performance_profiles (query_id, profile_data) VALUES ('q-null', NULL);
\set VERBOSITY default
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'bulk-' || g, jsonb_build_object('operation_name', 'op', 'duration_ms', 10 - g * 3)
  FROM generate_series(1, 5) g;

-- the triggers find their columns by name: a dropped one is named, one
-- added again at another position is found there
BEGIN;
ALTER TABLE performance_profiles DROP COLUMN ppprof_analyzed;
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('q-columns', '{"operation_name": "a", "duration_ms": 1}');
ROLLBACK;
BEGIN;
ALTER TABLE performance_profiles DROP COLUMN total_duration_ms;
ALTER TABLE performance_profiles ADD COLUMN total_duration_ms float;
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('q-columns', '{"operation_name": "a", "duration_ms": 7}');
SELECT query_id, total_duration_ms, ppprof_analyzed FROM performance_profiles WHERE query_id = 'q-columns';
ROLLBACK;

-- nothing but the baseline and the accepted edge cases were stored
SELECT query_id, count(*) FROM performance_profiles GROUP BY 1 ORDER BY 1;


-- A plain INSERT fills query_id as pp_ingest does: the root's
-- metadata.query_id, else a random UUID (issue 16)
INSERT INTO performance_profiles (profile_data)
VALUES ('{"operation_name": "qid", "duration_ms": 1, "metadata": {"query_id": "from-metadata"}}');
INSERT INTO performance_profiles (profile_data)
VALUES ('{"operation_name": "qid", "duration_ms": 1, "metadata": {"query_id": 42}}');
INSERT INTO performance_profiles (profile_data)
VALUES ('{"operation_name": "qid", "duration_ms": 1}');
SELECT pp_ingest('{"operation_name": "qid", "duration_ms": 1, "metadata": {"query_id": "via-pp_ingest"}}') IS NOT NULL AS stored;
SELECT pp_ingest('{"operation_name": "qid", "duration_ms": 1}') IS NOT NULL AS stored;
SELECT query_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid,
       CASE WHEN query_id ~ '^[0-9a-f]{8}-' THEN NULL ELSE query_id END AS query_id
  FROM performance_profiles WHERE profile_data->>'operation_name' = 'qid' ORDER BY 2, 1;
-- also with ppprof.enabled off, where nothing else is filled in
SET ppprof.enabled = off;
INSERT INTO performance_profiles (profile_data, total_duration_ms)
VALUES ('{"operation_name": "qid-off", "duration_ms": 1, "metadata": {"query_id": "off"}}', 1);
RESET ppprof.enabled;
SELECT query_id FROM performance_profiles WHERE profile_data->>'operation_name' = 'qid-off';
DELETE FROM performance_profiles WHERE profile_data->>'operation_name' IN ('qid', 'qid-off');
SELECT pp_rebuild() >= 0 AS rebuilt;

-- pp_ingest's errors name the query_id, given or from the metadata
SELECT pp_ingest('{"operation_name": "r", "duration_ms": -1}', 'q-named');
SELECT pp_ingest('{"operation_name": "r", "duration_ms": -1, "metadata": {"query_id": "q-meta"}}');

-- start_time and end_time are seconds since the epoch; milliseconds are
-- refused rather than stored as durations a million times too long
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('q-ms', '{"operation_name": "r", "start_time": 1733300000000, "end_time": 1733300001200}');
SELECT pp_ingest('{"operation_name": "r", "duration_ms": 5, "children": [{"operation_name": "c", "start_time": 1733300000.1, "end_time": 1733300001200}]}');

-- total_duration_ms sent by the client must be a duration
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('q-nan', '{"operation_name": "r", "duration_ms": 1}', 'NaN');
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('q-inf', '{"operation_name": "r", "duration_ms": 1}', 'Infinity');
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
VALUES ('q-neg', '{"operation_name": "r", "duration_ms": 1}', -0.5);
UPDATE performance_profiles SET total_duration_ms = '-Infinity' WHERE query_id = 'baseline';
SELECT count(*) AS stored FROM performance_profiles
 WHERE query_id IN ('q-named', 'q-meta', 'q-ms', 'q-nan', 'q-inf', 'q-neg')
    OR total_duration_ms < 0 OR total_duration_ms = 'Infinity' OR total_duration_ms = 'NaN';

DROP EXTENSION ppprof;
