--
-- sql/src/rollups.sql -- statistics persisted per closed time bucket
-- (src/rollup.c; docs/scaling.md, "Rollups"): one row per minute or hour,
-- operation, call path, dimension value or the profiles themselves, computed from the table
-- by pp_rollup() or its background worker, and the minutes whose rows
-- changed after their rollup was written
--

CREATE TABLE @extschema@.performance_rollups (
    width text NOT NULL CHECK (width IN ('minute', 'hour', 'day')),
    bucket_start timestamptz NOT NULL,
    kind "char" NOT NULL CHECK (kind IN ('p', 'o', 'c', 'd')),
    name text NOT NULL,
    data bytea NOT NULL,
    written_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (width, bucket_start, kind, name)
);
COMMENT ON TABLE @extschema@.performance_rollups IS
    'Statistics of closed minutes, hours and days: kind p (the profiles; name empty), o (an operation), c (a call path), d (a dimension value of an operation, minutes and hours inside ppprof.horizon); data in the stored form of src/core/rollup.h, read with pp_rollup_contents()';

-- No key: writers of the same minute must never wait for each other's
-- marks, so each transaction inserts its own row.
CREATE TABLE @extschema@.performance_rollup_stale (
    bucket_start timestamptz NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE @extschema@.performance_rollup_stale IS
    'Minutes whose rows changed after their rollup may have been written, one row per transaction and minute; the next pp_rollup() writes them again';

--
-- A restored rollup replaces the one there: a restore (pg_restore, psql of
-- a dump) loads performance_profiles first, whose commit may start the
-- background pp_rollup(), writing rollups of the same buckets.  The
-- trigger takes the lock pp_rollup() holds, so a restore and pp_rollup()
-- take turns (src/rollups.c).  (Only pp_rollup() and restores write rollups.)
--
CREATE FUNCTION @extschema@.pp_rollup_replace()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_rollup_replace'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_rollup_replace() IS
    'Makes an inserted rollup replace the row of the same key (a restore after the background worker wrote)';
CREATE TRIGGER ppprof_rollup_replace
    BEFORE INSERT ON @extschema@.performance_rollups
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_rollup_replace();

CREATE FUNCTION @extschema@.pp_rollup()
RETURNS integer
AS 'MODULE_PATHNAME', 'pp_rollup'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_rollup() IS
    'Writes the rollups of the minutes closed since the last call and of the stale ones, and of their hours and days; returns the rows written';

CREATE FUNCTION @extschema@.pp_rollup_contents(data bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pp_rollup_contents'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_rollup_contents(bytea) IS
    'The counters and percentiles of one rollup''s data, as jsonb';
