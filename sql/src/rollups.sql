--
-- sql/src/rollups.sql -- statistics persisted per closed time bucket
-- (src/rollup.c; docs/scaling.md, "Rollups"): one row per minute or hour,
-- operation, call path or the profiles themselves, computed from the table
-- by pp_rollup() or its background worker, and the minutes whose rows
-- changed after their rollup was written
--

CREATE TABLE @extschema@.performance_rollups (
    width text NOT NULL CHECK (width IN ('minute', 'hour')),
    bucket_start timestamptz NOT NULL,
    kind "char" NOT NULL CHECK (kind IN ('p', 'o', 'c')),
    name text NOT NULL,
    data bytea NOT NULL,
    written_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (width, bucket_start, kind, name)
);
COMMENT ON TABLE @extschema@.performance_rollups IS
    'Statistics of closed minutes and hours: kind p (the profiles; name empty), o (an operation), c (a call path); data in the stored form of src/core/rollup.h, read with pp_rollup_contents()';

CREATE TABLE @extschema@.performance_rollup_stale (
    bucket_start timestamptz PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE @extschema@.performance_rollup_stale IS
    'Minutes whose rows changed after their rollup was written; the next pp_rollup() writes them again';

CREATE FUNCTION @extschema@.pp_rollup()
RETURNS integer
AS 'MODULE_PATHNAME', 'pp_rollup'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_rollup() IS
    'Writes the rollups of the minutes closed since the last call and of the stale ones, and of their hours; returns the buckets written';

CREATE FUNCTION @extschema@.pp_rollup_contents(data bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_rollup_contents'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_rollup_contents(bytea) IS
    'The counters and percentiles of one rollup''s data, as jsonb';
