--
-- sql/src/finish.sql -- what is done once every object exists
--
-- pg_dump keeps users' rows of every table (with the configuration
-- triggers, a restored key replaces the seeded row).
--

SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_bottlenecks', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_thresholds', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.operation_categories', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.operation_dimensions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.optimization_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.usage_keys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.model_prices', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_baselines', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_baseline_operations', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_alerts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.operation_attribute_categories', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_otlp_traces', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_otlp_spans', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_rollup_stale', '');

-- The new table is empty: its statistics start empty and exact.
SELECT @extschema@.pp_stats_created();
