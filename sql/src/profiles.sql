--
-- sql/src/profiles.sql -- the tables applications write and read:
-- performance_profiles (one timing tree per request) and
-- performance_bottlenecks (what pp_detect_bottlenecks() found).  They have
-- exactly the columns, types, defaults and keys that RAG applications
-- already write.
--

--
-- With ppprof.partition_profiles on, the table is partitioned by range of
-- created_at (docs/scaling.md, "Partitioned by day"): the primary key then
-- includes created_at, which is therefore NOT NULL, and the partitions are
-- created by pp_create_partitions() or pg_partman.  The block's own dollar
-- quote keeps its statements in view of test/sql/install.sql.
--

DO $partitioned$
BEGIN
    IF pg_catalog.current_setting('ppprof.partition_profiles', true)::boolean THEN
        CREATE TABLE @extschema@.performance_profiles (
            id uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
            query_id text NOT NULL,
            profile_data jsonb NOT NULL,
            total_duration_ms float NOT NULL,
            bottleneck_operations jsonb DEFAULT '[]',
            optimization_suggestions jsonb DEFAULT '[]',
            created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
            ppprof_analyzed boolean NOT NULL DEFAULT false,
            ppprof_rejected text DEFAULT NULL,
            PRIMARY KEY (id, created_at)
        ) PARTITION BY RANGE (created_at);
    ELSE
        CREATE TABLE @extschema@.performance_profiles (
            id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
            query_id text NOT NULL,
            profile_data jsonb NOT NULL,
            total_duration_ms float NOT NULL,
            bottleneck_operations jsonb DEFAULT '[]',
            optimization_suggestions jsonb DEFAULT '[]',
            created_at timestamptz DEFAULT pg_catalog.now(),
            ppprof_analyzed boolean NOT NULL DEFAULT false,
            ppprof_rejected text DEFAULT NULL
        );
    END IF;
END;
$partitioned$;
COMMENT ON COLUMN @extschema@.performance_profiles.ppprof_analyzed IS
    'Set by ppprof once it filled the analysis columns; a row inserted with true (a restore) keeps them as they are';
COMMENT ON COLUMN @extschema@.performance_profiles.ppprof_rejected IS
    'Why ppprof left the row out of every statistic: a profile not valid that arrived by logical replication (stored, not analysed); NULL for every counted row';
CREATE INDEX performance_profiles_created_at_idx
    ON @extschema@.performance_profiles (created_at);
COMMENT ON TABLE @extschema@.performance_profiles IS
    'One timing tree (TimingRecord) per request, validated and analysed by ppprof on INSERT';

--
-- profile_data is compressed with lz4 where the server has it (Debian's and
-- Supabase's builds do): a 2 kB profile pushed over the TOAST threshold by the
-- analysis columns is compressed at about a quarter of pglz's cost, and read
-- back faster by the rebuild and the windows' table reads.  A server built
-- without lz4 keeps pglz.
--

DO $$
BEGIN
    ALTER TABLE @extschema@.performance_profiles
        ALTER COLUMN profile_data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'profile_data keeps the default compression: this server was built without lz4';
END;
$$;

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

CREATE INDEX performance_bottlenecks_detected_at_idx
    ON @extschema@.performance_bottlenecks (detected_at);
