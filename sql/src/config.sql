--
-- sql/src/config.sql -- the configuration tables (thresholds, operation
-- categories, optimization catalog), the triggers that keep every session's
-- cached copy current and turn a restored key into an update, and the seed
--

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
    measure text NOT NULL DEFAULT 'duration'
        CHECK (measure IN ('duration', 'time_to_first_token', 'cost', 'error_rate')),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (operation_type, suggestion)
);
COMMENT ON TABLE @extschema@.optimization_catalog IS
    'Suggestions per operation type, with effort, the measure they improve and its expected reduction';

--
-- What a node's metadata says of a model call (docs/cost.md): which keys
-- hold token counts, cost, the model and the time to first token.  Keys
-- are read as they stand in metadata, dotted names included
-- ("gen_ai.usage.input_tokens" is one key, as OTLP ingest writes it).
-- When several keys of one field are present, the smallest priority wins.
--

CREATE TABLE @extschema@.usage_keys (
    metadata_key text PRIMARY KEY CHECK (metadata_key <> ''),
    usage_field text NOT NULL
        CHECK (usage_field IN ('input_tokens', 'output_tokens', 'total_tokens',
                               'cost_usd', 'model', 'provider',
                               'time_to_first_token_ms')),
    priority integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE @extschema@.usage_keys IS
    'Metadata key -> usage field (tokens, cost, model, time to first token); among present keys of one field the smallest priority wins';

--
-- Prices per model, the user's to maintain: USD per million input tokens
-- and per million output tokens from valid_from on.  A node is priced at
-- its row's created_at: an exact model name wins, then the LIKE pattern
-- with the most literal characters; of that name or pattern, the row with
-- the latest valid_from not after created_at.
--

CREATE TABLE @extschema@.model_prices (
    model_pattern text NOT NULL CHECK (model_pattern <> ''),
    valid_from timestamptz NOT NULL DEFAULT '-infinity',
    input_usd_per_million float NOT NULL
        CHECK (input_usd_per_million OPERATOR(pg_catalog.>=) 0
               AND input_usd_per_million < 'infinity'),
    output_usd_per_million float NOT NULL
        CHECK (output_usd_per_million OPERATOR(pg_catalog.>=) 0
               AND output_usd_per_million < 'infinity'),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (model_pattern, valid_from)
);
COMMENT ON TABLE @extschema@.model_prices IS
    'USD per million input / output tokens per model name or LIKE pattern, from valid_from on; the user''s to maintain';

CREATE TABLE @extschema@.operation_dimensions (
    name text PRIMARY KEY CHECK (name <> '' AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 63),
    key_path text[]
        CHECK (pg_catalog.cardinality(key_path) OPERATOR(pg_catalog.>=) 1
               AND pg_catalog.cardinality(key_path) OPERATOR(pg_catalog.<=) 8
               AND pg_catalog.array_ndims(key_path) OPERATOR(pg_catalog.=) 1
               AND pg_catalog.array_position(key_path, NULL) IS NULL),
    usage_field text CHECK (usage_field IN ('model', 'provider')),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((key_path IS NULL) <> (usage_field IS NULL))
);
COMMENT ON TABLE @extschema@.operation_dimensions IS
    'Dimensions pp_dimension_stats slices by: a name and where a node''s value is, a metadata key path or a usage_keys field (model, provider); a node''s own, else its nearest ancestor''s';

CREATE FUNCTION @extschema@.pp_config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_config_changed'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_config_changed() IS
    'Invalidates every session''s cached copy of the configuration tables';

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
CREATE TRIGGER ppprof_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON @extschema@.usage_keys
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_config_changed();
CREATE TRIGGER ppprof_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON @extschema@.model_prices
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_config_changed();
CREATE TRIGGER ppprof_config_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON @extschema@.operation_dimensions
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
    ELSIF TG_TABLE_NAME = 'usage_keys' THEN
        UPDATE @extschema@.usage_keys u
           SET usage_field = NEW.usage_field, priority = NEW.priority,
               updated_at = NEW.updated_at
         WHERE u.metadata_key = NEW.metadata_key;
    ELSIF TG_TABLE_NAME = 'model_prices' THEN
        UPDATE @extschema@.model_prices m
           SET input_usd_per_million = NEW.input_usd_per_million,
               output_usd_per_million = NEW.output_usd_per_million,
               updated_at = NEW.updated_at
         WHERE m.model_pattern = NEW.model_pattern
           AND m.valid_from = NEW.valid_from;
    ELSIF TG_TABLE_NAME = 'operation_dimensions' THEN
        UPDATE @extschema@.operation_dimensions d
           SET key_path = NEW.key_path, usage_field = NEW.usage_field,
               updated_at = NEW.updated_at
         WHERE d.name = NEW.name;
    ELSE
        UPDATE @extschema@.optimization_catalog o
           SET effort = NEW.effort,
               expected_reduction_pct = NEW.expected_reduction_pct,
               enabled = NEW.enabled, measure = NEW.measure,
               updated_at = NEW.updated_at
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
CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.usage_keys
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_config_replace();
CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.model_prices
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_config_replace();
CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.operation_dimensions
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
    (operation_type, suggestion, effort, expected_reduction_pct, measure) VALUES
    ('retrieval', 'Cache results of semantically similar queries', 'medium', 40, 'duration'),
    ('retrieval', 'Use hybrid dense + sparse search', 'medium', 25, 'duration'),
    ('retrieval', 'Tune chunk size and overlap', 'low', 15, 'duration'),
    ('retrieval', 'Retrieve chunks in parallel', 'medium', 30, 'duration'),
    ('embedding_generation', 'Batch texts per embedding API call', 'low', 40, 'duration'),
    ('embedding_generation', 'Cache embeddings of frequent texts', 'low', 50, 'duration'),
    ('embedding_generation', 'Use a local embedding model', 'high', 60, 'duration'),
    ('llm_generation', 'Stream responses to the client', 'low', 30, 'time_to_first_token'),
    ('llm_generation', 'Route simple queries to a smaller model', 'medium', 40, 'duration'),
    ('llm_generation', 'Use prompt caching', 'low', 25, 'duration'),
    ('llm_generation', 'Send fewer prompt tokens', 'medium', 20, 'cost'),
    ('cache_lookup', 'Make cache key generation cheaper', 'low', 30, 'duration'),
    ('cache_lookup', 'Keep hot data in an in-memory cache', 'medium', 60, 'duration'),
    ('cache_lookup', 'Warm the cache ahead of traffic', 'medium', 40, 'duration'),
    ('database_query', 'Add indexes for common queries', 'low', 50, 'duration'),
    ('database_query', 'Simplify query structure and joins', 'medium', 30, 'duration'),
    ('database_query', 'Use read replicas for high traffic', 'high', 25, 'duration'),
    ('api_call', 'Run independent API calls concurrently', 'medium', 40, 'duration'),
    ('api_call', 'Cache idempotent responses', 'medium', 50, 'duration'),
    ('api_call', 'Set timeouts and retry with backoff', 'low', 10, 'error_rate');

-- OpenTelemetry gen_ai (current, then deprecated names), OpenInference,
-- then plain keys
INSERT INTO @extschema@.usage_keys (metadata_key, usage_field, priority) VALUES
    ('gen_ai.response.model', 'model', 0),
    ('gen_ai.request.model', 'model', 1),
    ('llm.model_name', 'model', 2),
    ('model', 'model', 3),
    ('gen_ai.system', 'provider', 0),
    ('gen_ai.usage.input_tokens', 'input_tokens', 0),
    ('gen_ai.usage.prompt_tokens', 'input_tokens', 1),
    ('llm.token_count.prompt', 'input_tokens', 2),
    ('input_tokens', 'input_tokens', 3),
    ('gen_ai.usage.output_tokens', 'output_tokens', 0),
    ('gen_ai.usage.completion_tokens', 'output_tokens', 1),
    ('llm.token_count.completion', 'output_tokens', 2),
    ('output_tokens', 'output_tokens', 3),
    ('llm.token_count.total', 'total_tokens', 2),
    ('total_tokens', 'total_tokens', 3),
    ('cost_usd', 'cost_usd', 3),
    ('time_to_first_token_ms', 'time_to_first_token_ms', 3);

-- List prices (USD per million tokens) as the providers published them in
-- 2024, written down for this seed in December 2026 without checking them
-- again: a starting point only; ppprof never updates them (docs/cost.md).
INSERT INTO @extschema@.model_prices (model_pattern, input_usd_per_million, output_usd_per_million) VALUES
    ('gpt-4o', 2.50, 10.00),
    ('gpt-4o-%', 2.50, 10.00),
    ('gpt-4o-mini', 0.15, 0.60),
    ('gpt-4o-mini-%', 0.15, 0.60),
    ('text-embedding-3-small', 0.02, 0),
    ('text-embedding-3-large', 0.13, 0),
    ('claude-3-5-sonnet%', 3.00, 15.00),
    ('claude-3-5-haiku%', 0.80, 4.00);
INSERT INTO @extschema@.operation_dimensions (name, key_path, usage_field) VALUES
    ('model', NULL, 'model'),
    ('release', '{release}', NULL);
