/* sql/ppprof--1.1--1.2.sql -- ppprof 1.2: pp_ingest_jsonl */

\echo Use "ALTER EXTENSION ppprof UPDATE TO '1.2'" to load this file. \quit

--
-- A batch as JSON Lines, one profile per line: each line is parsed on its
-- own, so a large batch costs what its profiles cost one by one, where one
-- large jsonb array (pp_ingest_batch) costs several times more to parse.
--
CREATE FUNCTION @extschema@.pp_ingest_jsonl(profiles text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_ingest_jsonl'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_ingest_jsonl(text) IS
    'Stores one profile per line (JSON Lines; blank lines skipped), all or nothing; returns how many';

-- an application function, as pp_ingest_batch (docs/security.md)
REVOKE ALL ON FUNCTION @extschema@.pp_ingest_jsonl(text) FROM PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format(
                'REVOKE ALL ON FUNCTION @extschema@.pp_ingest_jsonl(text) FROM %I', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        GRANT EXECUTE ON FUNCTION @extschema@.pp_ingest_jsonl(text) TO service_role;
    END IF;
END;
$$;
