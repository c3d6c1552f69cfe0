--
-- sql/src/snapshots.sql -- performance_snapshots and the functions that
-- take and read them; the measurements that come from C are
-- pp_snapshot_probe()'s (src/snapshot.c)
--
-- (a float column compared with an integer constant names pg_catalog's
-- operator, as in config.sql)
--

CREATE TABLE @extschema@.performance_snapshots (
    id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    taken_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    active_operations integer NOT NULL,
    memory_usage_mb float NOT NULL,
    cpu_percent float,
    pending_tasks integer NOT NULL,
    cache_size integer NOT NULL,
    avg_response_time_ms float,
    window_profiles bigint NOT NULL,
    cpu_busy_ticks bigint,
    cpu_total_ticks bigint
);
CREATE INDEX performance_snapshots_taken_at_idx
    ON @extschema@.performance_snapshots (taken_at);
COMMENT ON TABLE @extschema@.performance_snapshots IS
    'What the system looked like at each pp_snapshot() (docs/operations.md defines every column)';

CREATE FUNCTION @extschema@.pp_snapshot_probe(
    OUT shared_memory_mb float, OUT backend_memory_mb float,
    OUT cpu_busy_ticks bigint, OUT cpu_total_ticks bigint,
    OUT operations_tracked integer, OUT window_profiles bigint,
    OUT avg_response_time_ms float, OUT retention interval)
AS 'MODULE_PATHNAME', 'pp_snapshot_probe'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_snapshot_probe() IS
    'The measurements of pp_snapshot() that come from C: memory, host CPU ticks, operations tracked, recent mean response time';

--
-- pp_snapshot runs as its caller, not SECURITY DEFINER: as the owner, a role
-- granted it would run the writes to performance_snapshots, any trigger on
-- that table, and a deletion whose reach its own ppprof.snapshot_retention
-- decides.  The owner, who runs the job, is a superuser (ppprof is not a
-- trusted extension) and sees every backend anyway.  What keeps the
-- owner's own job safe is in privileges.sql: no other role may add a
-- trigger (or a rule or policy, which only the owner may) to the table.
--
-- Both snapshot functions name their first column "timestamp", as the
-- seed's PerformanceSnapshot does; taken_at is there too, as the last column.
--
CREATE FUNCTION @extschema@.pp_snapshot()
RETURNS TABLE ("timestamp" timestamptz, active_operations integer,
               memory_usage_mb float, cpu_percent float, pending_tasks integer,
               cache_size integer, avg_response_time_ms float,
               taken_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    prev record;
    s @extschema@.performance_snapshots;
    active integer;
    waiting integer;
BEGIN
    SELECT * INTO p FROM @extschema@.pp_snapshot_probe();
    -- the other backends of this database running a statement, and those
    -- of them waiting for a lock
    SELECT count(*) FILTER (WHERE a.state = 'active'),
           count(*) FILTER (WHERE a.wait_event_type = 'Lock')
      INTO active, waiting
      FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.pid <> pg_backend_pid();
    SELECT t.cpu_busy_ticks, t.cpu_total_ticks INTO prev
      FROM @extschema@.performance_snapshots t
     WHERE t.cpu_total_ticks IS NOT NULL
     ORDER BY t.taken_at DESC LIMIT 1;

    INSERT INTO @extschema@.performance_snapshots AS t
        (active_operations, memory_usage_mb, cpu_percent, pending_tasks,
         cache_size, avg_response_time_ms, window_profiles,
         cpu_busy_ticks, cpu_total_ticks)
    VALUES (active, p.shared_memory_mb + p.backend_memory_mb,
            -- at least a CPU-second (100 ticks) since the previous snapshot
            CASE WHEN p.cpu_total_ticks >= prev.cpu_total_ticks + 100
                 THEN 100.0 * (p.cpu_busy_ticks - prev.cpu_busy_ticks)
                            / (p.cpu_total_ticks - prev.cpu_total_ticks) END,
            waiting, p.operations_tracked, p.avg_response_time_ms,
            p.window_profiles, p.cpu_busy_ticks, p.cpu_total_ticks)
    RETURNING * INTO s;

    DELETE FROM @extschema@.performance_snapshots t
     WHERE t.taken_at < s.taken_at - p.retention;

    RETURN QUERY SELECT s.taken_at, s.active_operations, s.memory_usage_mb,
                        s.cpu_percent, s.pending_tasks, s.cache_size,
                        s.avg_response_time_ms, s.taken_at;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_snapshot() IS
    'Captures, stores and returns a performance snapshot as the calling role; drops snapshots older than ppprof.snapshot_retention';

CREATE FUNCTION @extschema@.pp_snapshots("window" interval DEFAULT '1 hour')
RETURNS TABLE ("timestamp" timestamptz, active_operations integer,
               memory_usage_mb float, cpu_percent float, pending_tasks integer,
               cache_size integer, avg_response_time_ms float,
               taken_at timestamptz)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.taken_at, s.active_operations, s.memory_usage_mb, s.cpu_percent,
           s.pending_tasks, s.cache_size, s.avg_response_time_ms, s.taken_at
      FROM @extschema@.performance_snapshots s
     WHERE s.taken_at >= now() - "window"
     ORDER BY s.taken_at;
$$;
COMMENT ON FUNCTION @extschema@.pp_snapshots(interval) IS
    'The stored snapshots of the last window, oldest first';
