-- test/gen/rag_profiles.sql
--   Generator of realistic RAG profiles, used by the demo, the benchmarks
--   and the accuracy tests.  Creates schema ppgen with:
--
--   ppgen.profile(i bigint, t0 timestamptz) -> jsonb
--       one 10-node TimingRecord tree as Python's dataclasses.asdict writes
--       it: rag_pipeline > cache_lookup, embed_query, retrieval >
--       (vector_search, keyword_search, reranking), database_query,
--       llm_generation > openai_chat.  Durations are drawn from log-normal
--       distributions seeded by i, so the same i gives the same profile;
--       about 2% of llm calls fail and about 5% of vector searches are slow.
--
--   ppgen.load(n bigint, span interval, t_end timestamptz) -> bigint
--       inserts n profiles into performance_profiles with created_at spread
--       evenly over [t_end - span, t_end).

CREATE SCHEMA IF NOT EXISTS ppgen;

-- A deterministic uniform number in (0, 1) from (i, k).
CREATE OR REPLACE FUNCTION ppgen.u(i bigint, k int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((('x' || substr(md5(i::text || ':' || k::text), 1, 13))::bit(52)::bigint)::float8 + 0.5)
           / 4503599627370496.0
$$;

-- Log-normal with the given median (ms) and sigma, from (i, k).
CREATE OR REPLACE FUNCTION ppgen.lognormal(i bigint, k int, median float8, sigma float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round((median * exp(sigma * sqrt(-2 * ln(ppgen.u(i, k)))
                              * cos(2 * pi() * ppgen.u(i, k + 1000))))::numeric, 3)::float8
$$;

CREATE OR REPLACE FUNCTION ppgen.node(name text, t0 float8, dur float8,
                                      children jsonb DEFAULT '[]',
                                      metadata jsonb DEFAULT '{}',
                                      err text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'operation_name', name,
        'start_time', t0,
        'end_time', t0 + dur / 1000.0,
        'duration_ms', dur,
        'metadata', metadata,
        'children', children,
        'error', err)
$$;

CREATE OR REPLACE FUNCTION ppgen.profile(i bigint, t0 timestamptz DEFAULT '2026-01-01 00:00:00+00')
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    s float8 := extract(epoch FROM t0);
    hit boolean := ppgen.u(i, 1) < 0.3;
    d_cache float8 := ppgen.lognormal(i, 2, 8, 0.5);
    d_embed float8 := CASE WHEN hit THEN 0 ELSE ppgen.lognormal(i, 3, 120, 0.45) END;
    d_vec float8 := ppgen.lognormal(i, 4, 180, 0.5) * CASE WHEN ppgen.u(i, 5) < 0.05 THEN 6 ELSE 1 END;
    d_kw float8 := ppgen.lognormal(i, 6, 40, 0.4);
    d_rerank float8 := ppgen.lognormal(i, 7, 90, 0.4);
    d_ret float8;
    d_db float8 := ppgen.lognormal(i, 8, 35, 0.7);
    d_chat float8 := ppgen.lognormal(i, 9, 1400, 0.5);
    d_llm float8;
    failed boolean := ppgen.u(i, 10) < 0.02;
    t float8;
    kids jsonb := '[]';
    ret_kids jsonb;
BEGIN
    t := s;
    kids := kids || ppgen.node('cache_lookup', t, d_cache, '[]',
                               jsonb_build_object('cache', CASE WHEN hit THEN 'hit' ELSE 'miss' END));
    t := t + d_cache / 1000;
    IF NOT hit THEN
        kids := kids || ppgen.node('embed_query', t, d_embed, '[]',
                                   jsonb_build_object('model', 'text-embedding-3-small', 'tokens', 12 + (i % 40)));
        t := t + d_embed / 1000;
    END IF;
    -- vector and keyword search run in parallel, then reranking
    ret_kids := jsonb_build_array(
        ppgen.node('vector_search', t, d_vec, '[]', jsonb_build_object('top_k', 20)),
        ppgen.node('keyword_search', t, d_kw),
        ppgen.node('reranking', t + greatest(d_vec, d_kw) / 1000, d_rerank));
    d_ret := round((greatest(d_vec, d_kw) + d_rerank + 1.5)::numeric, 3)::float8;
    kids := kids || ppgen.node('retrieval', t, d_ret, ret_kids);
    t := t + d_ret / 1000;
    kids := kids || ppgen.node('database_query', t, d_db, '[]',
                               jsonb_build_object('table', 'documents'));
    t := t + d_db / 1000;
    d_llm := round((d_chat + 3.2)::numeric, 3)::float8;
    kids := kids || ppgen.node('llm_generation', t, d_llm,
                               jsonb_build_array(ppgen.node('openai_chat', t + 0.001, d_chat, '[]',
                                   jsonb_build_object('model', 'gpt-4o-mini'),
                                   CASE WHEN failed THEN 'RateLimitError: retry later' END)),
                               jsonb_build_object('prompt_tokens', 900 + (i % 700)),
                               CASE WHEN failed THEN 'upstream error' END);
    t := t + d_llm / 1000;
    RETURN ppgen.node('rag_pipeline', s, round(((t - s) * 1000 + 0.8)::numeric, 3)::float8, kids,
                      jsonb_build_object('query_id', 'q-' || i));
END;
$$;

CREATE OR REPLACE FUNCTION ppgen.load(n bigint, span interval DEFAULT '24 hours',
                                      t_end timestamptz DEFAULT now())
RETURNS bigint LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO performance_profiles (query_id, profile_data, created_at)
        SELECT 'q-' || g,
               ppgen.profile(g, t_end - span * ((n - g + 1)::float8 / n)),
               t_end - span * ((n - g + 1)::float8 / n)
          FROM generate_series(1, n) AS g
        RETURNING 1)
    SELECT count(*) FROM ins
$$;
