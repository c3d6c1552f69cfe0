-- bench/report_gen.sql -- data for bench/report.sh, on top of
-- test/gen/rag_profiles.sql (load that first).  Creates schema ppbench with:
--
--   ppbench.profile_ops(i bigint, t0 timestamptz, nops int) -> jsonb
--       ppgen.profile(i, t0) -- the same 10-node tree, durations, errors
--       and metadata -- with its operation names replaced so that the
--       names cycle over nops distinct ones: the node that ppgen calls
--       the j-th name (j = 0..9, in the order of the list below) is named
--       'op_' || lpad(((10 * i + j) % nops)::text, 4, '0').  So nops = 10
--       gives op_0000 .. op_0009 in every profile, and nops = 1000 gives
--       profile i the 10 consecutive names starting at 10 * i mod 1000,
--       every name once in 100 consecutive profiles.  nops NULL returns
--       ppgen.profile(i, t0) unchanged.
--
--   ppbench.load(base bigint, n bigint, k_from bigint, k_to bigint,
--                span interval, t_end timestamptz, nops int DEFAULT NULL) -> bigint
--       a batch of n profiles spread evenly over [t_end - span, t_end), as
--       ppgen.load spreads its n: the k-th (k = 1..n) is profile
--       g = base + k, created at t_end - span * ((n - k + 1) / n), query id
--       'q-' || g.  Inserts only k_from..k_to of the batch, so that a
--       large batch can be inserted in several transactions.  Give
--       batches disjoint ranges of g (base = the profiles loaded before).

CREATE SCHEMA IF NOT EXISTS ppbench;

CREATE OR REPLACE FUNCTION ppbench.profile_ops(i bigint, t0 timestamptz, nops int)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    names constant text[] := ARRAY['rag_pipeline', 'cache_lookup', 'embed_query', 'retrieval',
                                   'vector_search', 'keyword_search', 'reranking',
                                   'database_query', 'llm_generation', 'openai_chat'];
    s text;
BEGIN
    IF nops IS NULL THEN
        RETURN ppgen.profile(i, t0);
    END IF;
    IF nops < 1 OR nops > 10000 THEN
        RAISE EXCEPTION 'ppbench.profile_ops: nops must be in 1..10000, got %', nops;
    END IF;
    s := ppgen.profile(i, t0)::text;
    -- jsonb's text form writes every key as "key": "value"
    FOR j IN 1 .. 10 LOOP
        s := replace(s, '"operation_name": "' || names[j] || '"',
                     '"operation_name": "op_' || lpad(((10 * i + j - 1) % nops)::text, 4, '0') || '"');
    END LOOP;
    RETURN s::jsonb;
END;
$$;

CREATE OR REPLACE FUNCTION ppbench.load(base bigint, n bigint, k_from bigint, k_to bigint,
                                        span interval, t_end timestamptz, nops int DEFAULT NULL)
RETURNS bigint LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO performance_profiles (query_id, profile_data, created_at)
        SELECT 'q-' || (base + k), ppbench.profile_ops(base + k, t, nops), t
          FROM generate_series(k_from, k_to) AS k,
               LATERAL (SELECT t_end - span * ((n - k + 1)::float8 / n) AS t) AS x
        RETURNING 1)
    SELECT count(*) FROM ins
$$;
