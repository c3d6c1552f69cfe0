--
-- sql/src/spans.sql -- spans: a profile built by SQL and PL/pgSQL code as it
-- runs (src/span.c)
--

CREATE FUNCTION @extschema@.pp_begin(operation text, metadata jsonb DEFAULT '{}',
                                     query_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_begin'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_begin(text, jsonb, text) IS
    'Opens a span inside the current one (or a new tree); returns its id';

CREATE FUNCTION @extschema@.pp_end(span bigint DEFAULT NULL, error text DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'pp_end'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_end(bigint, text) IS
    'Ends a span (the innermost when NULL) and the spans open inside it; ending the root stores the tree and returns the profile id';

CREATE FUNCTION @extschema@.pp_time(operation text, query text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_time'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_time(text, text) IS
    'Runs a statement as a span inside the current one; returns the rows it processed';

CREATE FUNCTION @extschema@.pp_spans()
RETURNS TABLE (span bigint, parent bigint, operation text, depth integer,
               started_at timestamptz, open boolean, error text)
AS 'MODULE_PATHNAME', 'pp_spans'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_spans() IS
    'The spans of this session''s unfinished tree, in opening order';
