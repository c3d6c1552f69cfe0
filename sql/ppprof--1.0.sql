/* sql/ppprof--1.0.sql -- install script of ppprof 1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION ppprof" to load this file. \quit

--
-- Tables.  performance_profiles and performance_bottlenecks have exactly the
-- columns, types, defaults and keys that RAG applications already write.
--

CREATE TABLE @extschema@.performance_profiles (
    id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    query_id text NOT NULL,
    profile_data jsonb NOT NULL,
    total_duration_ms float NOT NULL,
    bottleneck_operations jsonb DEFAULT '[]',
    optimization_suggestions jsonb DEFAULT '[]',
    created_at timestamptz DEFAULT pg_catalog.now(),
    ppprof_analyzed boolean NOT NULL DEFAULT false
);
COMMENT ON COLUMN @extschema@.performance_profiles.ppprof_analyzed IS
    'Set by ppprof once it filled the analysis columns; a row inserted with true (a restore) keeps them as they are';
CREATE INDEX performance_profiles_created_at_idx
    ON @extschema@.performance_profiles (created_at);
COMMENT ON TABLE @extschema@.performance_profiles IS
    'One timing tree (TimingRecord) per request, validated and analysed by ppprof on INSERT';

CREATE TABLE @extschema@.performance_bottlenecks (
    id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    operation_type text NOT NULL,
    avg_duration_ms float NOT NULL,
    p95_duration_ms float NOT NULL,
    p99_duration_ms float NOT NULL,
    occurrence_count integer NOT NULL,
    impact_score float NOT NULL,
    suggested_optimizations jsonb DEFAULT '[]',
    detected_at timestamptz DEFAULT pg_catalog.now(),
    operation text DEFAULT NULL
);
COMMENT ON COLUMN @extschema@.performance_bottlenecks.operation IS
    'The operation name (operation_type is its type); set by pp_detect_bottlenecks()';
COMMENT ON TABLE @extschema@.performance_bottlenecks IS
    'Bottlenecks detected over a window, one row per operation and detection';

--
-- Configuration, seeded with the defaults and edited with plain SQL.  Edits
-- take effect in the next statement of every session: a statement trigger
-- sends a relcache invalidation that drops each backend's cached copy.
--
-- A float column compared with an integer constant names pg_catalog's
-- operator: pg_catalog has no float8 > integer, so one planted in the
-- target schema would be a better match, bound into the constraint for
-- good and run by the seed's INSERT below as the installing superuser.
--

CREATE TABLE @extschema@.performance_thresholds (
    operation_type text PRIMARY KEY CHECK (operation_type <> ''),
    threshold_ms float NOT NULL
        CHECK (threshold_ms OPERATOR(pg_catalog.>) 0 AND threshold_ms < 'infinity'),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.performance_thresholds IS
    'Duration above which a node is a bottleneck, per operation type or exact operation name (the name wins)';

CREATE TABLE @extschema@.operation_categories (
    pattern text PRIMARY KEY CHECK (pattern <> ''),
    operation_type text NOT NULL CHECK (operation_type <> ''),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.operation_categories IS
    'Operation name -> type: an exact name wins, then the LIKE pattern with the most literal characters; unmatched names are "other"';

CREATE TABLE @extschema@.optimization_catalog (
    operation_type text NOT NULL CHECK (operation_type <> ''),
    suggestion text NOT NULL CHECK (suggestion <> ''),
    effort text NOT NULL DEFAULT 'medium'
        CHECK (effort IN ('low', 'medium', 'high')),
    expected_reduction_pct float NOT NULL
        CHECK (expected_reduction_pct OPERATOR(pg_catalog.>) 0
               AND expected_reduction_pct OPERATOR(pg_catalog.<=) 100),
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (operation_type, suggestion)
);
COMMENT ON TABLE @extschema@.optimization_catalog IS
    'Suggestions per operation type, with effort and the expected reduction of the operation''s time';

--
-- C functions
--

CREATE FUNCTION @extschema@.pp_profiles_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_profiles_trigger'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_trigger() IS
    'Validates profile_data and fills total_duration_ms, bottleneck_operations and optimization_suggestions';

CREATE FUNCTION @extschema@.pp_config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_config_changed'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_config_changed() IS
    'Invalidates every session''s cached copy of the configuration tables';

CREATE FUNCTION @extschema@.pp_ingest(profile jsonb, query_id text DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'pp_ingest'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_ingest(jsonb, text) IS
    'Stores one profile; query_id defaults to metadata.query_id of the root, else a new uuid';

CREATE FUNCTION @extschema@.pp_ingest_batch(profiles jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_ingest_batch'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_ingest_batch(jsonb) IS
    'Stores every profile of a JSON array, all or nothing; returns how many';

CREATE FUNCTION @extschema@.pp_analyze_profile(profile jsonb)
RETURNS TABLE (node integer, path text, parent integer, depth integer,
               operation text, operation_type text, duration_ms float,
               self_ms float, threshold_ms float, is_bottleneck boolean,
               failed boolean)
AS 'MODULE_PATHNAME', 'pp_analyze_profile'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_analyze_profile(jsonb) IS
    'Validates a profile without storing it and returns one row per node, in document order';

CREATE FUNCTION @extschema@.pp_profiles_observe()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_profiles_observe'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_observe() IS
    'Queues the statistics of a written or deleted profile, applied when the transaction commits';

CREATE FUNCTION @extschema@.pp_profiles_truncated()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_profiles_truncated'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_truncated() IS
    'Clears the statistics of this database when performance_profiles is truncated';

CREATE FUNCTION @extschema@.pp_operation_stats("window" interval DEFAULT '24 hours')
RETURNS TABLE (operation text, operation_type text, calls bigint, errors bigint,
               error_rate float, avg_ms float, stddev_ms float, min_ms float,
               p50_ms float, p95_ms float, p99_ms float, max_ms float,
               total_ms float, self_avg_ms float, self_total_ms float,
               first_seen timestamptz, last_seen timestamptz)
AS 'MODULE_PATHNAME', 'pp_operation_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_operation_stats(interval) IS
    'Per-operation statistics of the profiles created in [now() - window, now()], most total time first';

CREATE FUNCTION @extschema@.pp_operation_samples(operation text)
RETURNS TABLE (duration_ms float, self_ms float, profile_id uuid, created_at timestamptz)
AS 'MODULE_PATHNAME', 'pp_operation_samples'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_operation_samples(text) IS
    'The reservoir of sample occurrences of an operation, slowest first, with their profile ids';

CREATE FUNCTION @extschema@.pp_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pp_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_reset() IS
    'Forgets the shared statistics of this database (not the table); answers come from the table until pp_rebuild()';

CREATE FUNCTION @extschema@.pp_rebuild()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_rebuild'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_rebuild() IS
    'Recomputes the shared statistics of this database from performance_profiles; returns the profiles read';

CREATE FUNCTION @extschema@.pp_optimization_report("window" interval DEFAULT '24 hours')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_optimization_report'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_optimization_report(interval) IS
    'Summary, bottlenecks by impact, prioritised optimizations and patterns of the profiles created in [now() - window, now()]';

CREATE FUNCTION @extschema@.pp_bottlenecks("window" interval DEFAULT '24 hours')
RETURNS TABLE (operation text, operation_type text, impact_score float, priority text,
               calls bigint, avg_ms float, p95_ms float, p99_ms float,
               threshold_ms float, share_of_total_pct float, self_ms float,
               patterns text[], optimizations jsonb)
AS 'MODULE_PATHNAME', 'pp_bottlenecks'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_bottlenecks(interval) IS
    'The bottlenecks of pp_optimization_report as rows, by impact';

CREATE FUNCTION @extschema@.pp_detect_bottlenecks("window" interval DEFAULT '1 hour')
RETURNS integer
AS 'MODULE_PATHNAME', 'pp_detect_bottlenecks'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_detect_bottlenecks(interval) IS
    'Writes one row per bottleneck of the window into performance_bottlenecks; returns how many';

CREATE FUNCTION @extschema@.pp_info()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_info'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_info() IS
    'The profiler''s own state: whether statistics are live or read from the table, memory, evictions';

CREATE FUNCTION @extschema@.pp_stats_created()
RETURNS void
AS 'MODULE_PATHNAME', 'pp_stats_created'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_stats_created() IS
    'Starts empty, exact statistics for the new table (called by CREATE EXTENSION)';

--
-- Triggers
--

CREATE TRIGGER ppprof_ingest
    BEFORE INSERT OR UPDATE ON @extschema@.performance_profiles
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_profiles_trigger();
CREATE TRIGGER ppprof_observe
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.performance_profiles
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_profiles_observe();
CREATE TRIGGER ppprof_truncated
    AFTER TRUNCATE ON @extschema@.performance_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_profiles_truncated();

CREATE TRIGGER ppprof_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON @extschema@.performance_thresholds
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_config_changed();
CREATE TRIGGER ppprof_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON @extschema@.operation_categories
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_config_changed();
CREATE TRIGGER ppprof_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON @extschema@.optimization_catalog
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_config_changed();

--
-- Inserting a configuration row whose key exists replaces that row.  This is
-- what lets pg_dump / pg_restore carry users' edits of seeded rows: the
-- restore's CREATE EXTENSION seeds the defaults, then the dumped rows
-- replace them.
--

CREATE FUNCTION @extschema@.pp_config_replace()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_NAME = 'performance_thresholds' THEN
        UPDATE @extschema@.performance_thresholds t
           SET threshold_ms = NEW.threshold_ms, updated_at = NEW.updated_at
         WHERE t.operation_type = NEW.operation_type;
    ELSIF TG_TABLE_NAME = 'operation_categories' THEN
        UPDATE @extschema@.operation_categories c
           SET operation_type = NEW.operation_type, updated_at = NEW.updated_at
         WHERE c.pattern = NEW.pattern;
    ELSE
        UPDATE @extschema@.optimization_catalog o
           SET effort = NEW.effort,
               expected_reduction_pct = NEW.expected_reduction_pct,
               enabled = NEW.enabled, updated_at = NEW.updated_at
         WHERE o.operation_type = NEW.operation_type
           AND o.suggestion = NEW.suggestion;
    END IF;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_config_replace() IS
    'Turns the insert of an existing configuration key into an update of that row';

CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.performance_thresholds
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_config_replace();
CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.operation_categories
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_config_replace();
CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.optimization_catalog
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_config_replace();

--
-- Seed
--

INSERT INTO @extschema@.performance_thresholds (operation_type, threshold_ms) VALUES
    ('retrieval', 500),
    ('embedding_generation', 200),
    ('llm_generation', 2000),
    ('cache_lookup', 50),
    ('database_query', 100),
    ('api_call', 1000);

INSERT INTO @extschema@.operation_categories (pattern, operation_type) VALUES
    -- exact names
    ('retrieval', 'retrieval'),
    ('vector_search', 'retrieval'),
    ('semantic_search', 'retrieval'),
    ('hybrid_search', 'retrieval'),
    ('keyword_search', 'retrieval'),
    ('similarity_search', 'retrieval'),
    ('document_retrieval', 'retrieval'),
    ('match_documents', 'retrieval'),
    ('reranking', 'retrieval'),
    ('rerank', 'retrieval'),
    ('embedding_generation', 'embedding_generation'),
    ('embedding', 'embedding_generation'),
    ('embed_query', 'embedding_generation'),
    ('embed_documents', 'embedding_generation'),
    ('llm_generation', 'llm_generation'),
    ('llm_call', 'llm_generation'),
    ('openai_chat', 'llm_generation'),
    ('chat_completion', 'llm_generation'),
    ('generate_answer', 'llm_generation'),
    ('cache_lookup', 'cache_lookup'),
    ('cache_get', 'cache_lookup'),
    ('cache_set', 'cache_lookup'),
    ('database_query', 'database_query'),
    ('db_query', 'database_query'),
    ('sql_query', 'database_query'),
    ('api_call', 'api_call'),
    ('http_request', 'api_call'),
    -- patterns: the one with the most literal characters wins
    ('%retriev%', 'retrieval'),
    ('%search%', 'retrieval'),
    ('%rerank%', 'retrieval'),
    ('%vector%', 'retrieval'),
    ('%embed%', 'embedding_generation'),
    ('%embedding%', 'embedding_generation'),
    ('%llm%', 'llm_generation'),
    ('%gpt%', 'llm_generation'),
    ('%openai%', 'llm_generation'),
    ('%anthropic%', 'llm_generation'),
    ('%chat%', 'llm_generation'),
    ('%completion%', 'llm_generation'),
    ('%cache%', 'cache_lookup'),
    ('%sql%', 'database_query'),
    ('%database%', 'database_query'),
    ('%db\_%', 'database_query'),
    ('%http%', 'api_call'),
    ('%api%', 'api_call');

INSERT INTO @extschema@.optimization_catalog
    (operation_type, suggestion, effort, expected_reduction_pct) VALUES
    ('retrieval', 'Cache results of semantically similar queries', 'medium', 40),
    ('retrieval', 'Use hybrid dense + sparse search', 'medium', 25),
    ('retrieval', 'Tune chunk size and overlap', 'low', 15),
    ('retrieval', 'Retrieve chunks in parallel', 'medium', 30),
    ('embedding_generation', 'Batch texts per embedding API call', 'low', 40),
    ('embedding_generation', 'Cache embeddings of frequent texts', 'low', 50),
    ('embedding_generation', 'Use a local embedding model', 'high', 60),
    ('llm_generation', 'Stream responses to the client', 'low', 30),
    ('llm_generation', 'Route simple queries to a smaller model', 'medium', 40),
    ('llm_generation', 'Use prompt caching', 'low', 25),
    ('llm_generation', 'Send fewer prompt tokens', 'medium', 20),
    ('cache_lookup', 'Make cache key generation cheaper', 'low', 30),
    ('cache_lookup', 'Keep hot data in an in-memory cache', 'medium', 60),
    ('cache_lookup', 'Warm the cache ahead of traffic', 'medium', 40),
    ('database_query', 'Add indexes for common queries', 'low', 50),
    ('database_query', 'Simplify query structure and joins', 'medium', 30),
    ('database_query', 'Use read replicas for high traffic', 'high', 25),
    ('api_call', 'Run independent API calls concurrently', 'medium', 40),
    ('api_call', 'Cache idempotent responses', 'medium', 50),
    ('api_call', 'Set timeouts and retry with backoff', 'low', 10);

--
-- pg_dump keeps users' rows of every table.
--

SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_bottlenecks', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_thresholds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.operation_categories', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.optimization_catalog', '');

--
-- Security.  Row level security on every table; no policy, so only the
-- owner and roles with BYPASSRLS (Supabase's service_role) see rows.  No
-- function is executable by PUBLIC.  Supabase-style roles get privileges only
-- where they exist, and anon / authenticated lose whatever default
-- privileges granted them.  docs/security.md shows how to open a table to
-- authenticated users with a policy.
--

ALTER TABLE @extschema@.performance_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_bottlenecks ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_thresholds ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.operation_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.optimization_catalog ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON @extschema@.performance_profiles, @extschema@.performance_bottlenecks,
    @extschema@.performance_thresholds, @extschema@.operation_categories,
    @extschema@.optimization_catalog FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.pp_profiles_trigger(), @extschema@.pp_config_changed(),
    @extschema@.pp_config_replace(), @extschema@.pp_ingest(jsonb, text),
    @extschema@.pp_ingest_batch(jsonb), @extschema@.pp_analyze_profile(jsonb),
    @extschema@.pp_profiles_observe(), @extschema@.pp_profiles_truncated(),
    @extschema@.pp_operation_stats(interval), @extschema@.pp_operation_samples(text),
    @extschema@.pp_reset(), @extschema@.pp_rebuild(), @extschema@.pp_stats_created(),
    @extschema@.pp_info(), @extschema@.pp_optimization_report(interval),
    @extschema@.pp_bottlenecks(interval), @extschema@.pp_detect_bottlenecks(interval)
    FROM PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format(
                'REVOKE ALL ON @extschema@.performance_profiles, '
                '@extschema@.performance_bottlenecks, @extschema@.performance_thresholds, '
                '@extschema@.operation_categories, @extschema@.optimization_catalog FROM %I', r);
            EXECUTE pg_catalog.format(
                'REVOKE ALL ON FUNCTION @extschema@.pp_profiles_trigger(), '
                '@extschema@.pp_config_changed(), @extschema@.pp_config_replace(), '
                '@extschema@.pp_ingest(jsonb, text), @extschema@.pp_ingest_batch(jsonb), '
                '@extschema@.pp_analyze_profile(jsonb), @extschema@.pp_profiles_observe(), '
                '@extschema@.pp_profiles_truncated(), @extschema@.pp_operation_stats(interval), '
                '@extschema@.pp_operation_samples(text), @extschema@.pp_reset(), '
                '@extschema@.pp_rebuild(), @extschema@.pp_stats_created(), '
                '@extschema@.pp_info(), @extschema@.pp_optimization_report(interval), '
                '@extschema@.pp_bottlenecks(interval), '
                '@extschema@.pp_detect_bottlenecks(interval) FROM %I', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.performance_profiles,
            @extschema@.performance_bottlenecks, @extschema@.performance_thresholds,
            @extschema@.operation_categories, @extschema@.optimization_catalog
            TO service_role;
        -- administration stays with the owner, whatever default privileges say
        REVOKE ALL ON FUNCTION @extschema@.pp_profiles_trigger(),
            @extschema@.pp_config_changed(), @extschema@.pp_config_replace(),
            @extschema@.pp_profiles_observe(), @extschema@.pp_profiles_truncated(),
            @extschema@.pp_reset(), @extschema@.pp_rebuild(), @extschema@.pp_stats_created()
            FROM service_role;
        GRANT EXECUTE ON FUNCTION @extschema@.pp_ingest(jsonb, text),
            @extschema@.pp_ingest_batch(jsonb), @extschema@.pp_analyze_profile(jsonb),
            @extschema@.pp_operation_stats(interval), @extschema@.pp_operation_samples(text),
            @extschema@.pp_info(), @extschema@.pp_optimization_report(interval),
            @extschema@.pp_bottlenecks(interval), @extschema@.pp_detect_bottlenecks(interval)
            TO service_role;
    END IF;
END;
$$;

-- The new table is empty: its statistics start empty and exact.
SELECT @extschema@.pp_stats_created();
