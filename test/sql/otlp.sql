-- otlp: pp_ingest_otlp, OpenTelemetry traces in (docs/opentelemetry.md)
CREATE EXTENSION ppprof;

-- The OTLP/JSON shape of the specification's example request, written
-- here: one resource, one scope, a root and two children, typed attributes.
SELECT pp_ingest_otlp('{
  "resourceSpans": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "rag-api"}},
      {"key": "service.instance.count", "value": {"intValue": "3"}}]},
    "scopeSpans": [{
      "scope": {"name": "rag.tracer", "version": "1.0.0", "attributes": []},
      "spans": [
        {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
         "parentSpanId": "", "name": "rag_pipeline", "kind": 2,
         "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000450000000",
         "attributes": [
           {"key": "http.route", "value": {"stringValue": "/ask"}},
           {"key": "retry", "value": {"boolValue": false}},
           {"key": "score", "value": {"doubleValue": 0.75}},
           {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 7}]}}},
           {"key": "user", "value": {"kvlistValue": {"values": [{"key": "tier", "value": {"stringValue": "pro"}}]}}},
           {"key": "blob", "value": {"bytesValue": "aGVsbG8="}},
           {"key": "empty", "value": {}}],
         "droppedAttributesCount": 0, "events": [], "links": [], "flags": 257,
         "status": {}},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
         "parentSpanId": "eee19b7ec3c1b174", "name": "vector_search", "kind": 3,
         "startTimeUnixNano": 1700000000010000000, "endTimeUnixNano": 1700000000110123456,
         "attributes": [{"key": "db.system.name", "value": {"stringValue": "postgresql"}}],
         "status": {"code": 1}},
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b176",
         "parentSpanId": "eee19b7ec3c1b174", "name": "chat gpt-4o", "kind": 3,
         "startTimeUnixNano": "1700000000120000000", "endTimeUnixNano": "1700000000440000000",
         "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}],
         "unknownField": {"ignored": true},
         "status": {"code": 2, "message": "RateLimitError: retry later"}}]}]}]}');

SELECT query_id, created_at AT TIME ZONE 'UTC' AS created_utc, total_duration_ms
  FROM performance_profiles;
SELECT jsonb_pretty(profile_data) FROM performance_profiles;
SELECT node, parent, operation, operation_type, duration_ms, failed
  FROM performance_profiles, pp_analyze_profile(profile_data) ORDER BY node;
DELETE FROM performance_profiles;

-- Helpers for the rest: times are milliseconds after a base a few minutes
-- ago (so that the shared statistics hold them); ids are small integers.
CREATE TABLE base AS
SELECT (extract(epoch FROM date_trunc('minute', now()) - interval '5 minutes') * 1e9)::bigint AS ns;
CREATE FUNCTION tid(n int) RETURNS text LANGUAGE sql AS $$ SELECT lpad(to_hex(n), 32, '0') $$;
CREATE FUNCTION sid(n int) RETURNS text LANGUAGE sql AS $$ SELECT lpad(to_hex(n), 16, '0') $$;
CREATE FUNCTION span(trace int, id int, parent int, name text, start_ms numeric, end_ms numeric,
                     attrs jsonb DEFAULT '{}', extra jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object(
    'traceId', tid(trace), 'spanId', sid(id),
    'parentSpanId', CASE WHEN parent IS NULL THEN '' ELSE sid(parent) END,
    'name', name, 'kind', 1,
    'startTimeUnixNano', ((SELECT ns FROM base) + start_ms * 1000000)::bigint::text,
    'endTimeUnixNano', ((SELECT ns FROM base) + end_ms * 1000000)::bigint::text,
    'attributes', (SELECT coalesce(jsonb_agg(jsonb_build_object('key', k, 'value',
                                     jsonb_build_object('stringValue', v))), '[]')
                     FROM jsonb_each_text(attrs) AS a(k, v))) || extra
$$;
CREATE FUNCTION request(VARIADIC spans jsonb[]) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('resourceSpans', jsonb_build_array(jsonb_build_object(
    'resource', '{"attributes": [{"key": "service.name", "value": {"stringValue": "rag-api"}}]}'::jsonb,
    'scopeSpans', jsonb_build_array(jsonb_build_object('spans', to_jsonb(spans))))))
$$;
-- a trace's stored tree
CREATE FUNCTION tree(trace int)
RETURNS TABLE (node int, parent int, operation text, type text, duration_ms float,
               start_ms numeric, failed boolean, error text)
LANGUAGE sql AS $$
  SELECT a.node, a.parent, a.operation, a.operation_type, a.duration_ms,
         round(((jsonb_path_query_array(p.profile_data, 'strict $.**.start_time') -> a.node)::numeric * 1e9
                - (SELECT ns FROM base)) / 1e6, 3),
         a.failed,
         jsonb_path_query_array(p.profile_data, 'strict $.**.error') ->> a.node
    FROM performance_profiles p, pp_analyze_profile(p.profile_data) a
   WHERE p.query_id = tid(trace) ORDER BY a.node
$$;
-- the statistics against the table, exactly
CREATE FUNCTION stats_match() RETURNS TABLE (side text, operation text, calls bigint, errors bigint, total_ms numeric)
LANGUAGE sql AS $$
  (SELECT 'shared', s.operation, s.calls, s.errors, round(s.total_ms::numeric, 6)
     FROM pp_operation_stats('1 hour') s
   EXCEPT
   SELECT 'shared', a.operation, count(*), count(*) FILTER (WHERE a.failed), round(sum(a.duration_ms)::numeric, 6)
     FROM performance_profiles p, pp_analyze_profile(p.profile_data) a
    WHERE p.created_at >= now() - interval '1 hour' GROUP BY a.operation)
  UNION ALL
  (SELECT 'table', a.operation, count(*), count(*) FILTER (WHERE a.failed), round(sum(a.duration_ms)::numeric, 6)
     FROM performance_profiles p, pp_analyze_profile(p.profile_data) a
    WHERE p.created_at >= now() - interval '1 hour' GROUP BY a.operation
   EXCEPT
   SELECT 'table', s.operation, s.calls, s.errors, round(s.total_ms::numeric, 6)
     FROM pp_operation_stats('1 hour') s)
$$;

-- Out of order across calls: a grandchild, then its parent, then the root,
-- then a late child of the root.
SELECT pp_ingest_otlp(request(span(1, 3, 2, 'vector_search', 20, 80)));
SELECT pp_ingest_otlp(request(span(1, 2, 1, 'retrieval', 10, 90)));
SELECT count(*) AS profiles FROM performance_profiles;
SELECT pp_ingest_otlp(request(span(1, 1, NULL, 'rag_pipeline', 0, 1000)));
SELECT * FROM tree(1);
SELECT created_at = to_timestamp((SELECT ns FROM base) / 1e9) AS created_at_is_root_start
  FROM performance_profiles WHERE query_id = tid(1);
SELECT pp_ingest_otlp(request(span(1, 4, 1, 'generate_answer', 100, 990,
                                   '{"gen_ai.operation.name": "chat"}')));
SELECT * FROM tree(1);
SELECT * FROM stats_match();
SELECT operation, calls FROM pp_operation_stats('1 hour') ORDER BY 1;

-- A retry of the same batch changes nothing: no row, no count, no update.
CREATE TABLE before AS SELECT id, profile_data, total_duration_ms FROM performance_profiles;
SELECT pp_ingest_otlp(request(span(1, 1, NULL, 'rag_pipeline', 0, 1000),
                              span(1, 2, 1, 'retrieval', 10, 90),
                              span(1, 4, 1, 'generate_answer', 100, 990,
                                   '{"gen_ai.operation.name": "chat"}')));
SELECT (SELECT count(*) FROM performance_profiles) AS profiles,
       (SELECT count(*) FROM (SELECT * FROM performance_profiles p
                               JOIN before b USING (id)
                              WHERE p.profile_data = b.profile_data) x) AS unchanged;
SELECT operation, calls FROM pp_operation_stats('1 hour') ORDER BY 1;
SELECT * FROM stats_match();
-- the same span twice in one request counts once
SELECT pp_ingest_otlp(request(span(1, 5, 1, 'cache_lookup', 1, 3), span(1, 5, 1, 'cache_lookup', 1, 3)));
SELECT operation, calls FROM pp_operation_stats('1 hour') WHERE operation = 'cache_lookup';
SELECT * FROM stats_match();

-- Failed spans: status.message, else an exception event, else error.type;
-- gen_ai / db / http client attributes give operation types.
SELECT pp_ingest_otlp(request(
  span(2, 1, NULL, 'ask', 0, 500),
  span(2, 2, 1, 'generate_content gemini', 10, 200, '{"gen_ai.operation.name": "generate_content"}',
       '{"status": {"code": 2, "message": "quota exceeded"}}'),
  span(2, 3, 1, 'embeddings small', 200, 250, '{"gen_ai.operation.name": "embeddings"}',
       '{"status": {"code": 2}, "events": [{"name": "log"}, {"name": "exception", "attributes": [{"key": "exception.message", "value": {"stringValue": "timeout after 30 s"}}]}]}'),
  span(2, 4, 1, 'SELECT chunks', 250, 300, '{"db.system": "postgresql", "error.type": "57014"}',
       '{"status": {"code": 2}}'),
  span(2, 5, 1, 'GET', 300, 400, '{"http.request.method": "GET"}', '{"kind": 3}'),
  span(2, 6, 1, 'POST', 400, 450, '{"http.request.method": "POST"}', '{"kind": 2}')));
SELECT * FROM tree(2);
SELECT pattern, operation_type FROM operation_categories
 WHERE pattern IN ('generate_content gemini', 'embeddings small', 'SELECT chunks', 'GET', 'POST',
                   'generate_answer', 'chat gpt-4o', 'vector_search')
 ORDER BY 1;
SELECT * FROM stats_match();

-- A user's row for a name wins over the attribute rules.
INSERT INTO operation_categories (pattern, operation_type) VALUES ('my_llm', 'cache_lookup');
SELECT pp_ingest_otlp(request(span(3, 1, NULL, 'my_llm', 0, 10, '{"gen_ai.operation.name": "chat"}')));
SELECT operation, type FROM tree(3);

-- A root that never arrives: pending, then orphaned, then stored by the
-- flush rooted at its top-most span and marked incomplete.
SELECT pp_ingest_otlp(request(span(4, 7, 5, 'rerank', 30, 60),
                              span(4, 6, 5, 'vector_search', 10, 30),
                              span(4, 8, 99, 'stray', 40, 45)));
SELECT pp_ingest_otlp(request(span(4, 5, 1, 'retrieval', 5, 70)));
SELECT pp_info() -> 'otlp_open_traces' AS open_traces,
       pp_info() -> 'otlp_pending_spans' AS pending, pp_info() -> 'otlp_orphaned_spans' AS orphaned;
SET ppprof.otlp_grace_period = 0;
SELECT pp_info() -> 'otlp_pending_spans' AS pending, pp_info() -> 'otlp_orphaned_spans' AS orphaned;
RESET ppprof.otlp_grace_period;
SELECT pp_otlp_flush('0');
SELECT * FROM tree(4);
SELECT profile_data -> 'metadata' -> 'otel.incomplete' AS incomplete
  FROM performance_profiles WHERE query_id = tid(4);
SELECT pp_info() -> 'otlp_open_traces' AS open_traces,
       pp_info() -> 'otlp_pending_spans' AS pending, pp_info() -> 'otlp_orphaned_spans' AS orphaned;
SELECT count(*) AS held_spans FROM performance_otlp_spans;
SELECT * FROM stats_match();

-- After its grace period a trace is closed: a retry of its spans is
-- accepted and changes nothing, a new span is rejected.
TRUNCATE before;
INSERT INTO before SELECT id, profile_data, total_duration_ms FROM performance_profiles;
SELECT pp_ingest_otlp(request(span(4, 6, 5, 'vector_search', 10, 30), span(4, 5, 1, 'retrieval', 5, 70)));
SELECT pp_ingest_otlp(request(span(4, 9, 5, 'too_late', 10, 30), span(4, 6, 5, 'vector_search', 10, 30)));
SELECT (SELECT count(*) FROM performance_profiles) AS profiles,
       (SELECT count(*) FROM performance_profiles p JOIN before b USING (id)
         WHERE p.profile_data = b.profile_data) AS unchanged;
SELECT * FROM stats_match();

-- Rejected spans (partial success): the others are stored.
SELECT pp_ingest_otlp(request(
  span(5, 1, NULL, 'ok', 0, 10),
  span(5, 2, 1, 'backwards', 10, 5),
  span(5, 3, 1, '', 1, 2),
  span(5, 4, 1, 'no end', 1, 2, '{}', '{"endTimeUnixNano": "0"}'),
  span(5, 5, 1, 'x', 1, 2, '{}', '{"traceId": "abc"}'),
  span(5, 6, 1, 'x', 1, 2, '{}', '{"spanId": "0000000000000000"}'),
  span(5, 7, 1, 'x', 1, 2, '{}', '{"parentSpanId": "xyz"}'),
  span(5, 8, 1, 'future', 1, 2, '{}', '{"startTimeUnixNano": "4000000000000000000", "endTimeUnixNano": "4000000000000000001"}'),
  span(5, 9, 1, repeat('n', 201), 1, 2)));
SELECT error FROM pp_otlp_decode(request(
  span(5, 2, 1, 'backwards', 10, 5),
  span(5, 3, 1, '', 1, 2),
  span(5, 4, 1, 'no end', 1, 2, '{}', '{"endTimeUnixNano": "0"}'),
  span(5, 5, 1, 'x', 1, 2, '{}', '{"traceId": "abc"}'),
  span(5, 6, 1, 'x', 1, 2, '{}', '{"spanId": "0000000000000000"}'),
  span(5, 7, 1, 'x', 1, 2, '{}', '{"parentSpanId": "xyz"}'),
  span(5, 8, 1, 'future', 1, 2, '{}', '{"startTimeUnixNano": "4000000000000000000", "endTimeUnixNano": "4000000000000000001"}'),
  span(5, 9, 1, repeat('n', 201), 1, 2)));
SELECT operation FROM tree(5);

-- Malformed requests: an ERROR naming the JSON path; nothing stored.
CREATE TABLE counts AS
SELECT (SELECT count(*) FROM performance_profiles) AS profiles,
       (SELECT count(*) FROM performance_otlp_spans) AS spans,
       (SELECT count(*) FROM performance_otlp_traces) AS traces,
       (SELECT count(*) FROM operation_categories) AS categories;
SELECT pp_ingest_otlp(NULL);
SELECT pp_ingest_otlp('[]');
SELECT pp_ingest_otlp('{"resourceSpans": {}}');
SELECT pp_ingest_otlp('{"resourceSpans": [1]}');
SELECT pp_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": "x"}]}]}');
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1, '{"gen_ai.operation.name": "chat"}'), '"not a span"'));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"traceId": 5}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"startTimeUnixNano": "12x"}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"endTimeUnixNano": -1}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"startTimeUnixNano": "99999999999999999999"}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"kind": "SPAN_KIND_CLIENT"}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"status": {"code": "2"}}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"attributes": [{"key": "k", "value": "v"}]}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"attributes": [{"value": {"stringValue": "v"}}]}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"attributes": [{"key": "k", "value": {"intValue": "1.5"}}]}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"attributes": [{"key": "k", "value": {"doubleValue": "fast"}}]}')));
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1, '{}', '{"attributes": [{"key": "k", "value": {"arrayValue": {"values": [{"boolValue": "yes"}]}}}]}')));
SELECT pp_ingest_otlp('{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": {"kvlistValue": {"values": [{"value": {}}]}}}]}}]}');
SET ppprof.otlp_max_request_spans = 2;
SELECT pp_ingest_otlp(request(span(6, 1, NULL, 'r', 0, 1), span(6, 2, 1, 'c', 0, 1), span(6, 3, 1, 'd', 0, 1)));
RESET ppprof.otlp_max_request_spans;
SELECT (SELECT count(*) FROM performance_profiles) AS profiles,
       (SELECT count(*) FROM performance_otlp_spans) AS spans,
       (SELECT count(*) FROM performance_otlp_traces) AS traces,
       (SELECT count(*) FROM operation_categories) AS categories
EXCEPT SELECT * FROM counts;

-- Bounds: spans of open traces in total, spans per trace, attributes per
-- node and their size, nesting of values, depth of the tree.
SET ppprof.otlp_max_pending_spans = 2;
SELECT pp_ingest_otlp(request(span(7, 1, NULL, 'r', 0, 10), span(7, 2, 1, 'a', 1, 2), span(7, 3, 1, 'b', 2, 3)));
RESET ppprof.otlp_max_pending_spans;
SET ppprof.max_nodes = 3;
SELECT pp_ingest_otlp(request(span(8, 2, 1, 'a', 1, 2), span(8, 3, 1, 'b', 2, 3)));
SELECT pp_ingest_otlp(request(span(8, 1, NULL, 'r', 0, 10), span(8, 4, 1, 'c', 3, 4)));
RESET ppprof.max_nodes;
SELECT operation FROM tree(8);
SELECT pp_ingest_otlp(request(span(9, 1, NULL, 'wide', 0, 10,
  (SELECT jsonb_object_agg('k' || g, 'v') FROM generate_series(1, 140) g)
  || jsonb_build_object('long', repeat('é', 3000), repeat('k', 300), 'v'))));
SELECT (SELECT count(*) FROM jsonb_object_keys(profile_data -> 'metadata')) AS keys,
       profile_data -> 'metadata' -> 'otel.dropped_attributes' AS dropped,
       octet_length(profile_data -> 'metadata' ->> 'k1') AS k1_bytes
  FROM performance_profiles WHERE query_id = tid(9);
SELECT pp_ingest_otlp(request(span(10, 1, NULL, 'long', 0, 10,
  (SELECT jsonb_object_agg('p' || g, repeat('é', 3000)) FROM generate_series(1, 5) g))));
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(profile_data -> 'metadata') k) AS keys,
       octet_length(profile_data -> 'metadata' ->> 'p1') AS p1_bytes,
       profile_data -> 'metadata' -> 'otel.truncated_values' AS truncated,
       profile_data -> 'metadata' -> 'otel.dropped_attributes' AS dropped
  FROM performance_profiles WHERE query_id = tid(10);
SELECT pp_ingest_otlp(request(span(11, 1, NULL, 'nested', 0, 10, '{}', jsonb_build_object('attributes', jsonb_build_array(
  jsonb_build_object('key', 'ok', 'value', '{"arrayValue": {"values": [{"arrayValue": {"values": [{"intValue": 1}]}}]}}'::jsonb),
  jsonb_build_object('key', 'deep', 'value',
    (repeat('{"arrayValue": {"values": [', 9) || '{"intValue": 1}' || repeat(']}}', 9))::jsonb))))));
SELECT profile_data -> 'metadata' -> 'ok' AS ok, profile_data -> 'metadata' ? 'deep' AS has_deep,
       profile_data -> 'metadata' -> 'otel.dropped_attributes' AS dropped
  FROM performance_profiles WHERE query_id = tid(11);
SET ppprof.max_depth = 3;
SELECT pp_ingest_otlp(request(span(12, 1, NULL, 'd1', 0, 50), span(12, 2, 1, 'd2', 1, 40),
                              span(12, 3, 2, 'd3', 2, 30), span(12, 4, 3, 'd4', 3, 20),
                              span(12, 5, 4, 'd5', 4, 10)));
RESET ppprof.max_depth;
SELECT node, parent, operation FROM tree(12);
SELECT profile_data -> 'metadata' -> 'otel.flattened' AS flattened
  FROM performance_profiles WHERE query_id = tid(12);
SELECT * FROM stats_match();

-- Deleting a profile takes its statistics with it, as for any profile.
DELETE FROM performance_profiles WHERE query_id = tid(2);
SELECT * FROM stats_match();

-- The caller's search_path changes nothing: look-alike operators and
-- tables planted in a schema searched first are never used.
CREATE SCHEMA trap;
CREATE TABLE trap.hits (what text);
CREATE FUNCTION trap.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO trap.hits VALUES ('text ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = trap.text_eq);
CREATE FUNCTION trap.arrow(a jsonb, b text) RETURNS text LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO trap.hits VALUES ('jsonb ->>'); RETURN a OPERATOR(pg_catalog.->>) b; END $$;
CREATE OPERATOR trap.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = trap.arrow);
CREATE TABLE trap.performance_otlp_spans (LIKE public.performance_otlp_spans);
SET search_path = trap, public, pg_catalog;
-- the plant works: a statement of the caller's own runs it (one hit)
SELECT 'a'::text = 'a'::text AS planted_ran;
SELECT pp_ingest_otlp(request(span(13, 2, 1, 'GET', 1, 2, '{"http.request.method": "GET"}', '{"kind": 3}'),
                              span(13, 1, NULL, 'trapped', 0, 10)));
SELECT pp_otlp_flush('0');
RESET search_path;
SELECT what, count(*) AS planted_runs FROM trap.hits GROUP BY 1;
SELECT count(*) AS planted_rows FROM trap.performance_otlp_spans;
SELECT operation FROM tree(13);
DROP SCHEMA trap CASCADE;

DROP EXTENSION ppprof;
