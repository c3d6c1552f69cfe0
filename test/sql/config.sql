-- config: the configuration tables are edited with plain SQL and take effect
-- in the next statement, in this session and in others, without a restart
CREATE EXTENSION ppprof;
CREATE EXTENSION dblink;

\set prof '{"operation_name": "rag", "duration_ms": 900, "children": [{"operation_name": "vector_search", "duration_ms": 450}, {"operation_name": "my_custom_step", "duration_ms": 400}, {"operation_name": "summarize_with_llm", "duration_ms": 50}]}'

SELECT operation, operation_type, threshold_ms, is_bottleneck FROM pp_analyze_profile(:'prof');

-- a lower threshold for the type, effective in the next statement
UPDATE performance_thresholds SET threshold_ms = 400 WHERE operation_type = 'retrieval';
SELECT operation, operation_type, threshold_ms, is_bottleneck FROM pp_analyze_profile(:'prof');

-- a row for an exact operation name overrides its type's
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('vector_search', 1000);
SELECT operation, threshold_ms, is_bottleneck FROM pp_analyze_profile(:'prof') WHERE operation = 'vector_search';

-- a new category: exact name, then the pattern with the most literal characters
INSERT INTO operation_categories (pattern, operation_type) VALUES ('my\_custom\_%', 'database_query');
SELECT operation, operation_type, threshold_ms, is_bottleneck FROM pp_analyze_profile(:'prof');
INSERT INTO operation_categories (pattern, operation_type) VALUES ('my_custom_step', 'api_call');
SELECT operation, operation_type FROM pp_analyze_profile(:'prof') WHERE operation = 'my_custom_step';
-- '%llm%' (3 literal characters) loses to '%summarize%' (9)
INSERT INTO operation_categories (pattern, operation_type) VALUES ('%summarize%', 'api_call');
SELECT operation, operation_type FROM pp_analyze_profile(:'prof') WHERE operation = 'summarize_with_llm';
-- unknown names are "other", and have no threshold unless one is added
SELECT operation, operation_type, threshold_ms FROM pp_analyze_profile('{"operation_name": "zzz", "duration_ms": 1}');
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('other', 0.5);
SELECT operation, operation_type, threshold_ms, is_bottleneck FROM pp_analyze_profile('{"operation_name": "zzz", "duration_ms": 1}');

-- inserting an existing key replaces the row (this is what pg_restore relies on)
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('retrieval', 300);
SELECT operation_type, threshold_ms FROM performance_thresholds WHERE operation_type = 'retrieval';

-- the catalogue feeds optimization_suggestions
UPDATE optimization_catalog SET enabled = false WHERE operation_type = 'database_query';
INSERT INTO optimization_catalog (operation_type, suggestion, effort, expected_reduction_pct)
VALUES ('database_query', 'Use a covering index on (tenant_id, created_at)', 'low', 70);
SELECT pp_ingest('{"operation_name": "db_query", "duration_ms": 500}', 'q-cat') IS NOT NULL AS stored;
SELECT jsonb_path_query(optimization_suggestions, '$[*] ? (@.operation_type == "database_query")')
  FROM performance_profiles WHERE query_id = 'q-cat';

-- a rolled-back edit leaves the cache as it was
BEGIN;
UPDATE performance_thresholds SET threshold_ms = 1 WHERE operation_type = 'llm_generation';
SELECT operation, threshold_ms, is_bottleneck FROM pp_analyze_profile('{"operation_name": "llm_call", "duration_ms": 2}');
ROLLBACK;
SELECT operation, threshold_ms FROM pp_analyze_profile('{"operation_name": "llm_call", "duration_ms": 1}');

-- another session sees a committed edit at its next statement
SELECT dblink_connect('other', 'dbname=' || current_database());
SELECT * FROM dblink('other', $$SELECT operation, threshold_ms FROM pp_analyze_profile('{"operation_name": "cache_get", "duration_ms": 70}')$$)
    AS t(operation text, threshold_ms float);
UPDATE performance_thresholds SET threshold_ms = 60 WHERE operation_type = 'cache_lookup';
SELECT * FROM dblink('other', $$SELECT operation, threshold_ms, is_bottleneck FROM pp_analyze_profile('{"operation_name": "cache_get", "duration_ms": 70}')$$)
    AS t(operation text, threshold_ms float, is_bottleneck boolean);
TRUNCATE performance_thresholds;
SELECT * FROM dblink('other', $$SELECT operation, threshold_ms, is_bottleneck FROM pp_analyze_profile('{"operation_name": "cache_get", "duration_ms": 70}')$$)
    AS t(operation text, threshold_ms float, is_bottleneck boolean);
SELECT dblink_disconnect('other');

-- bad configuration is refused by the tables' constraints
\set VERBOSITY terse
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('retrieval', 0);
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('retrieval', 'NaN');
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('', 10);
INSERT INTO operation_categories (pattern, operation_type) VALUES ('x', NULL);
INSERT INTO optimization_catalog (operation_type, suggestion, effort, expected_reduction_pct)
VALUES ('retrieval', 'Something', 'trivial', 10);
INSERT INTO optimization_catalog (operation_type, suggestion, effort, expected_reduction_pct)
VALUES ('retrieval', 'Something', 'low', 150);

\set VERBOSITY default
DROP EXTENSION dblink;
DROP EXTENSION ppprof;
