/* sql/ppprof--1.0--1.1.sql -- ppprof 1.1: snapshots, baselines, trends,
 * before/after comparison, alerts, pg_cron jobs and retention */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION ppprof UPDATE TO '1.1'" to load this file. \quit

--
-- Tables (a float column compared with an integer constant names
-- pg_catalog's operator, as in 1.0)
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

CREATE TABLE @extschema@.performance_baselines (
    name text PRIMARY KEY CHECK (name <> ''),
    captured_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    window_start timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    tolerance_pct float NOT NULL DEFAULT 25
        CHECK (tolerance_pct OPERATOR(pg_catalog.>) 0
               AND tolerance_pct OPERATOR(pg_catalog.<=) 1000),
    profiles bigint NOT NULL,
    profiles_per_hour float NOT NULL,
    avg_ms float,
    p95_ms float,
    error_rate float,
    cache_hit_rate float
);
COMMENT ON TABLE @extschema@.performance_baselines IS
    'Named baselines: what normal looked like over a window (global KPIs); see pp_capture_baseline()';

CREATE TABLE @extschema@.performance_baseline_operations (
    baseline text NOT NULL
        REFERENCES @extschema@.performance_baselines (name)
        ON DELETE CASCADE ON UPDATE CASCADE,
    operation text NOT NULL,
    operation_type text NOT NULL,
    calls bigint NOT NULL,
    calls_per_hour float NOT NULL,
    avg_ms float NOT NULL,
    p50_ms float NOT NULL,
    p95_ms float NOT NULL,
    p99_ms float NOT NULL,
    error_rate float NOT NULL,
    cache_hit_rate float,
    PRIMARY KEY (baseline, operation)
);
COMMENT ON TABLE @extschema@.performance_baseline_operations IS
    'Per-operation KPIs of each baseline';

CREATE TABLE @extschema@.performance_alert_rules (
    name text PRIMARY KEY CHECK (name <> ''),
    operation text,
    operation_type text,
    metric text NOT NULL
        CHECK (metric IN ('avg', 'p50', 'p95', 'p99', 'error_rate', 'calls')),
    comparator text NOT NULL DEFAULT '>'
        CHECK (comparator IN ('>', '>=', '<', '<=')),
    threshold float,
    baseline text,
    deviation_pct float CHECK (deviation_pct OPERATOR(pg_catalog.>=) 0),
    "window" interval NOT NULL DEFAULT '5 minutes'
        CHECK ("window" > '0'::interval),
    min_calls integer NOT NULL DEFAULT 1 CHECK (min_calls >= 1),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT one_target CHECK (operation IS NULL OR operation_type IS NULL),
    CONSTRAINT threshold_or_baseline
        CHECK ((threshold IS NULL) <> (baseline IS NULL)),
    CONSTRAINT baseline_needs_deviation
        CHECK (baseline IS NULL OR deviation_pct IS NOT NULL)
);
COMMENT ON TABLE @extschema@.performance_alert_rules IS
    'Alert rules: an operation (or every operation of a type, or the profiles when both are NULL), a metric over a window, and a fixed threshold or a deviation from a named baseline';

CREATE TABLE @extschema@.performance_alerts (
    id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    rule text NOT NULL
        REFERENCES @extschema@.performance_alert_rules (name)
        ON DELETE CASCADE ON UPDATE CASCADE,
    operation text,
    metric text NOT NULL,
    value float NOT NULL,
    threshold float NOT NULL,
    status text NOT NULL CHECK (status IN ('firing', 'resolved')),
    fired_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    checked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    resolved_at timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- at most one open alert per rule and operation
CREATE UNIQUE INDEX performance_alerts_open_idx
    ON @extschema@.performance_alerts (rule, (COALESCE(operation, '')))
    WHERE status = 'firing';
CREATE INDEX performance_alerts_fired_at_idx
    ON @extschema@.performance_alerts (fired_at);
COMMENT ON TABLE @extschema@.performance_alerts IS
    'Alerts fired and resolved by pp_check_alerts(); one open alert per rule and operation';

CREATE INDEX performance_bottlenecks_detected_at_idx
    ON @extschema@.performance_bottlenecks (detected_at);

--
-- C functions
--

CREATE FUNCTION @extschema@.pp_range_stats(range tstzrange)
RETURNS TABLE (operation text, operation_type text, calls bigint, errors bigint,
               error_rate float, avg_ms float, stddev_ms float, min_ms float,
               p50_ms float, p95_ms float, p99_ms float, max_ms float,
               total_ms float, self_avg_ms float, self_total_ms float,
               first_seen timestamptz, last_seen timestamptz,
               cache_lookups bigint, cache_hit_rate float)
AS 'MODULE_PATHNAME', 'pp_range_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_range_stats(tstzrange) IS
    'pp_operation_stats for the profiles created in a time range, with a first row (operation NULL) for the profiles themselves';

CREATE FUNCTION @extschema@.pp_compare(before tstzrange, after tstzrange)
RETURNS TABLE (operation text, operation_type text,
               calls_before bigint, calls_after bigint,
               avg_before_ms float, avg_after_ms float, avg_change_pct float,
               p95_before_ms float, p95_after_ms float, p95_change_pct float,
               p99_before_ms float, p99_after_ms float, p99_change_pct float,
               error_rate_before float, error_rate_after float,
               error_rate_change_pts float,
               p_value float, prob_slower float, error_p_value float,
               verdict text)
AS 'MODULE_PATHNAME', 'pp_compare'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_compare(tstzrange, tstzrange) IS
    'Before/after comparison per operation: deltas of avg/p95/p99/error rate, Mann-Whitney and two-proportion tests, a verdict at the 5% level';

CREATE FUNCTION @extschema@.pp_trends("window" interval DEFAULT '7 days',
                                      bucket interval DEFAULT '1 hour')
RETURNS TABLE (bucket_start timestamptz, operation text, operation_type text,
               calls bigint, errors bigint, error_rate float, avg_ms float,
               p50_ms float, p95_ms float, p99_ms float, cache_hit_rate float)
AS 'MODULE_PATHNAME', 'pp_trends'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_trends(interval, interval) IS
    'Time series per operation (and for the profiles, operation NULL): one row per bucket with calls';

CREATE FUNCTION @extschema@.pp_trend_summary("window" interval DEFAULT '7 days')
RETURNS TABLE (operation text, operation_type text, points integer, calls bigint,
               p95_start_ms float, p95_end_ms float, slope_ms_per_day float,
               slope_pct_per_day float, kendall_tau float, p_value float,
               threshold_ms float, trend text, regression boolean,
               threshold_crossing_at timestamptz)
AS 'MODULE_PATHNAME', 'pp_trend_summary'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.pp_trend_summary(interval) IS
    'Theil-Sen slope of each operation''s hourly p95 with a Mann-Kendall test, a regression flag and when p95 reaches the threshold at that slope';

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
-- Spans: a profile built by SQL and PL/pgSQL code as it runs (src/span.c)
--

CREATE FUNCTION @extschema@.pp_begin(operation text, metadata jsonb DEFAULT '{}',
                                     query_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_begin'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_begin(text, jsonb, text) IS
    'Opens a span inside the current one (or a new tree); returns its id';

CREATE FUNCTION @extschema@.pp_end(span bigint DEFAULT NULL, error text DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'pp_end'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_end(bigint, text) IS
    'Ends a span (the innermost when NULL) and the spans open inside it; ending the root stores the tree and returns the profile id';

CREATE FUNCTION @extschema@.pp_time(operation text, query text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_time'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_time(text, text) IS
    'Runs a statement as a span inside the current one; returns the rows it processed';

CREATE FUNCTION @extschema@.pp_spans()
RETURNS TABLE (span bigint, parent bigint, operation text, depth integer,
               started_at timestamptz, open boolean, error text)
AS 'MODULE_PATHNAME', 'pp_spans'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_spans() IS
    'The spans of this session''s unfinished tree, in opening order';

--
-- Snapshots
--

CREATE FUNCTION @extschema@.pp_snapshot()
RETURNS TABLE (taken_at timestamptz, active_operations integer,
               memory_usage_mb float, cpu_percent float, pending_tasks integer,
               cache_size integer, avg_response_time_ms float)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
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
                        s.avg_response_time_ms;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_snapshot() IS
    'Captures, stores and returns a performance snapshot; drops snapshots older than ppprof.snapshot_retention';

CREATE FUNCTION @extschema@.pp_snapshots("window" interval DEFAULT '1 hour')
RETURNS TABLE (taken_at timestamptz, active_operations integer,
               memory_usage_mb float, cpu_percent float, pending_tasks integer,
               cache_size integer, avg_response_time_ms float)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.taken_at, s.active_operations, s.memory_usage_mb, s.cpu_percent,
           s.pending_tasks, s.cache_size, s.avg_response_time_ms
      FROM @extschema@.performance_snapshots s
     WHERE s.taken_at >= now() - "window"
     ORDER BY s.taken_at;
$$;
COMMENT ON FUNCTION @extschema@.pp_snapshots(interval) IS
    'The stored snapshots of the last window, oldest first';

--
-- Baselines
--

CREATE FUNCTION @extschema@.pp_capture_baseline(name text DEFAULT 'default',
                                                "window" interval DEFAULT '7 days',
                                                tolerance_pct float DEFAULT 25)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t1 timestamptz := now();
    t0 timestamptz;
    hours float;
    n integer;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'baseline name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF "window" IS NULL OR "window" <= '0'::interval THEN
        RAISE EXCEPTION 'baseline window must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass an interval such as ''7 days''.';
    END IF;
    IF tolerance_pct IS NULL OR NOT (tolerance_pct > 0 AND tolerance_pct <= 1000) THEN
        RAISE EXCEPTION 'tolerance_pct must be between 0 and 1000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It is the acceptable deviation from the baseline in percent, 0 excluded.';
    END IF;
    t0 := t1 - "window";

    CREATE TEMP TABLE IF NOT EXISTS pp_baseline_stats ON COMMIT DROP AS
        SELECT * FROM @extschema@.pp_range_stats(NULL) WITH NO DATA;
    TRUNCATE pp_baseline_stats;
    INSERT INTO pp_baseline_stats
        SELECT * FROM @extschema@.pp_range_stats(tstzrange(t0, t1, '[]'));

    -- rates per hour over the part of the window that has profiles (a
    -- baseline of 7 days captured on the third day is not diluted)
    SELECT extract(epoch FROM t1 - greatest(t0, s.first_seen)) / 3600.0 INTO hours
      FROM pp_baseline_stats s WHERE s.operation IS NULL;
    hours := greatest(COALESCE(hours, 0), 1.0 / 60);

    DELETE FROM @extschema@.performance_baselines b WHERE b.name = pp_capture_baseline.name;
    INSERT INTO @extschema@.performance_baselines
        (name, captured_at, window_start, window_end, tolerance_pct, profiles,
         profiles_per_hour, avg_ms, p95_ms, error_rate, cache_hit_rate)
    SELECT pp_capture_baseline.name, t1, t0, t1, pp_capture_baseline.tolerance_pct,
           COALESCE(r.calls, 0), COALESCE(r.calls, 0) / hours,
           r.avg_ms, r.p95_ms, r.error_rate,
           (SELECT sum(s.cache_hit_rate * s.cache_lookups) / NULLIF(sum(s.cache_lookups), 0)
              FROM pp_baseline_stats s WHERE s.operation IS NOT NULL)
      FROM (SELECT 1) one
      LEFT JOIN pp_baseline_stats r ON r.operation IS NULL;

    INSERT INTO @extschema@.performance_baseline_operations
        (baseline, operation, operation_type, calls, calls_per_hour, avg_ms,
         p50_ms, p95_ms, p99_ms, error_rate, cache_hit_rate)
    SELECT pp_capture_baseline.name, s.operation, s.operation_type, s.calls,
           s.calls / hours, s.avg_ms, s.p50_ms, s.p95_ms, s.p99_ms, s.error_rate,
           s.cache_hit_rate
      FROM pp_baseline_stats s WHERE s.operation IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    DROP TABLE pp_baseline_stats;
    RETURN n;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_capture_baseline(text, interval, float) IS
    'Stores (or replaces) a named baseline of the last window: per-operation p50/p95/p99, avg, error rate, calls per hour, and global KPIs; returns the operations captured';

CREATE FUNCTION @extschema@.pp_baseline_check(name text DEFAULT 'default',
                                              "window" interval DEFAULT '1 hour',
                                              min_calls integer DEFAULT 5)
RETURNS TABLE (operation text, operation_type text, metric text,
               baseline_value float, current_value float, change_pct float,
               acceptable_low float, acceptable_high float, severity text,
               description text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b @extschema@.performance_baselines;
    tol float;
BEGIN
    SELECT * INTO b FROM @extschema@.performance_baselines x
     WHERE x.name = pp_baseline_check.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'baseline "%" does not exist', pp_baseline_check.name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Capture one with pp_capture_baseline(''' || pp_baseline_check.name || ''').';
    END IF;
    IF "window" IS NULL OR "window" <= '0'::interval THEN
        RAISE EXCEPTION 'window must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    tol := b.tolerance_pct / 100.0;

    RETURN QUERY
    WITH cur AS (
        SELECT * FROM @extschema@.pp_range_stats(tstzrange(now() - "window", now(), '[]'))
    ),
    hours AS (
        SELECT extract(epoch FROM "window") / 3600.0 AS h
    ),
    -- (operation, type, metric, baseline, current, higher_is_worse)
    pairs AS (
        SELECT o.operation, o.operation_type, m.metric, m.bv, m.cv, m.worse_up
          FROM @extschema@.performance_baseline_operations o
          JOIN cur c ON c.operation = o.operation AND c.calls >= min_calls
          CROSS JOIN hours
          CROSS JOIN LATERAL (VALUES
              ('avg_ms', o.avg_ms, c.avg_ms, true),
              ('p50_ms', o.p50_ms, c.p50_ms, true),
              ('p95_ms', o.p95_ms, c.p95_ms, true),
              ('p99_ms', o.p99_ms, c.p99_ms, true),
              ('error_rate', o.error_rate, c.error_rate, true),
              ('calls_per_hour', o.calls_per_hour, c.calls / hours.h, NULL::boolean),
              ('cache_hit_rate', o.cache_hit_rate, c.cache_hit_rate, false)
          ) AS m(metric, bv, cv, worse_up)
         WHERE o.baseline = b.name
        UNION ALL
        SELECT NULL, 'profile', m.metric, m.bv, m.cv, m.worse_up
          FROM cur c
          CROSS JOIN hours
          CROSS JOIN LATERAL (VALUES
              ('avg_ms', b.avg_ms, c.avg_ms, true),
              ('p95_ms', b.p95_ms, c.p95_ms, true),
              ('error_rate', b.error_rate, c.error_rate, true),
              ('profiles_per_hour', b.profiles_per_hour, c.calls / hours.h, NULL::boolean),
              ('cache_hit_rate', b.cache_hit_rate,
               (SELECT sum(x.cache_hit_rate * x.cache_lookups) / NULLIF(sum(x.cache_lookups), 0)
                  FROM cur x WHERE x.operation IS NOT NULL), false)
          ) AS m(metric, bv, cv, worse_up)
         WHERE c.operation IS NULL AND c.calls >= min_calls
    ),
    -- acceptable ranges: +-tolerance around the baseline, and at least 1
    -- percentage point for rates, 1 per hour for traffic, 0.1 ms for
    -- durations (a baseline of 0 still has a range)
    ranges AS (
        SELECT p.*,
               greatest(abs(p.bv) * tol,
                        CASE WHEN p.metric IN ('error_rate', 'cache_hit_rate') THEN 0.01
                             WHEN p.metric LIKE '%per_hour' THEN 1
                             ELSE 0.1 END) AS slack
          FROM pairs p
         WHERE p.bv IS NOT NULL AND p.cv IS NOT NULL
    ),
    judged AS (
        SELECT r.*, r.bv - r.slack AS lo, r.bv + r.slack AS hi,
               CASE WHEN r.cv > r.bv + r.slack THEN (r.cv - r.bv) / r.slack
                    WHEN r.cv < r.bv - r.slack THEN (r.bv - r.cv) / r.slack
               END AS excess,
               (r.cv > r.bv) AS went_up
          FROM ranges r
    )
    SELECT j.operation, j.operation_type, j.metric, j.bv, j.cv,
           CASE WHEN j.bv <> 0 THEN 100.0 * (j.cv - j.bv) / j.bv END,
           greatest(j.lo, 0), j.hi,
           CASE WHEN j.worse_up IS NULL OR j.went_up <> j.worse_up THEN 'info'
                WHEN j.excess >= 4 THEN 'critical'
                WHEN j.excess >= 2 THEN 'high'
                ELSE 'medium' END,
           format('%s %s from %s to %s (acceptable %s to %s)',
                  COALESCE(j.operation, 'profiles: ') || CASE WHEN j.operation IS NULL THEN '' ELSE ': ' END
                      || j.metric,
                  CASE WHEN j.went_up THEN 'rose' ELSE 'fell' END,
                  round(j.bv::numeric, 3), round(j.cv::numeric, 3),
                  round(greatest(j.lo, 0)::numeric, 3), round(j.hi::numeric, 3))
      FROM judged j
     WHERE j.excess IS NOT NULL
     ORDER BY j.excess DESC, j.operation NULLS FIRST, j.metric;

    -- operations the baseline never saw
    RETURN QUERY
    SELECT c.operation, c.operation_type, 'new_operation'::text, NULL::float,
           c.calls::float, NULL::float, NULL::float, NULL::float, 'info'::text,
           format('%s was not in baseline "%s" (%s calls now)', c.operation, b.name, c.calls)
      FROM @extschema@.pp_range_stats(tstzrange(now() - "window", now(), '[]')) c
     WHERE c.operation IS NOT NULL AND c.calls >= min_calls
       AND NOT EXISTS (SELECT 1 FROM @extschema@.performance_baseline_operations o
                        WHERE o.baseline = b.name AND o.operation = c.operation)
     ORDER BY c.operation;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_baseline_check(text, interval, integer) IS
    'Deviations of the last window from a named baseline, with severity; operations within the tolerance return no row';

--
-- Alerts
--

CREATE FUNCTION @extschema@.pp_check_alerts()
RETURNS TABLE (rule text, operation text, metric text, value float,
               threshold float, status text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r @extschema@.performance_alert_rules;
    m record;
    t1 timestamptz := now();
    breach boolean;
    open_id uuid;
    new_id uuid;
    changed uuid[] := '{}';
    ch record;
BEGIN
    FOR r IN SELECT * FROM @extschema@.performance_alert_rules x
              WHERE x.enabled ORDER BY x.name
    LOOP
        FOR m IN
            WITH s AS (
                SELECT * FROM @extschema@.pp_range_stats(tstzrange(t1 - r."window", t1, '[]'))
            ),
            targets AS (
                -- the rule's operations with their current value; an exact
                -- operation without calls has calls 0 and no other value
                SELECT s.operation, s.calls,
                       CASE r.metric WHEN 'avg' THEN s.avg_ms WHEN 'p50' THEN s.p50_ms
                                     WHEN 'p95' THEN s.p95_ms WHEN 'p99' THEN s.p99_ms
                                     WHEN 'error_rate' THEN s.error_rate
                                     ELSE s.calls::float END AS v
                  FROM s
                 WHERE (r.operation IS NOT NULL AND s.operation = r.operation)
                    OR (r.operation_type IS NOT NULL AND s.operation IS NOT NULL
                        AND s.operation_type = r.operation_type)
                    OR (r.operation IS NULL AND r.operation_type IS NULL AND s.operation IS NULL)
                UNION ALL
                SELECT r.operation, 0, CASE WHEN r.metric = 'calls' THEN 0 END
                 WHERE r.operation IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM s WHERE s.operation = r.operation)
            )
            SELECT tg.operation AS op, tg.calls AS n, tg.v,
                   CASE WHEN r.threshold IS NOT NULL THEN r.threshold
                        ELSE bv.v * (1 + sign_of.s * r.deviation_pct / 100.0) END AS limit_value
              FROM targets tg
              CROSS JOIN (SELECT CASE WHEN r.comparator IN ('<', '<=') THEN -1 ELSE 1 END AS s) sign_of
              LEFT JOIN LATERAL (
                  SELECT CASE r.metric WHEN 'avg' THEN o.avg_ms WHEN 'p50' THEN o.p50_ms
                                       WHEN 'p95' THEN o.p95_ms WHEN 'p99' THEN o.p99_ms
                                       WHEN 'error_rate' THEN o.error_rate
                                       ELSE o.calls_per_hour * extract(epoch FROM r."window") / 3600.0 END AS v
                    FROM @extschema@.performance_baseline_operations o
                   WHERE o.baseline = r.baseline AND o.operation = tg.operation
                  UNION ALL
                  SELECT CASE r.metric WHEN 'avg' THEN b.avg_ms WHEN 'p95' THEN b.p95_ms
                                       WHEN 'error_rate' THEN b.error_rate
                                       WHEN 'calls' THEN b.profiles_per_hour * extract(epoch FROM r."window") / 3600.0 END
                    FROM @extschema@.performance_baselines b
                   WHERE b.name = r.baseline AND tg.operation IS NULL
              ) bv ON true
        LOOP
            breach := m.v IS NOT NULL AND m.limit_value IS NOT NULL
                      AND m.n >= CASE WHEN r.metric = 'calls' THEN 0 ELSE r.min_calls END
                      AND CASE r.comparator
                              WHEN '>' THEN m.v > m.limit_value
                              WHEN '>=' THEN m.v >= m.limit_value
                              WHEN '<' THEN m.v < m.limit_value
                              ELSE m.v <= m.limit_value END;
            SELECT a.id INTO open_id FROM @extschema@.performance_alerts a
             WHERE a.rule = r.name AND a.status = 'firing'
               AND COALESCE(a.operation, '') = COALESCE(m.op, '')
               FOR UPDATE;
            IF breach AND open_id IS NULL THEN
                INSERT INTO @extschema@.performance_alerts AS x
                    (rule, operation, metric, value, threshold, status, fired_at, checked_at)
                VALUES (r.name, m.op, r.metric, m.v, m.limit_value, 'firing', t1, t1)
                ON CONFLICT DO NOTHING
                RETURNING x.id INTO new_id;
                IF new_id IS NOT NULL THEN
                    changed := changed || new_id;
                END IF;
            ELSIF breach THEN
                UPDATE @extschema@.performance_alerts x
                   SET value = m.v, threshold = m.limit_value, checked_at = t1
                 WHERE x.id = open_id;
            ELSIF open_id IS NOT NULL THEN
                UPDATE @extschema@.performance_alerts x
                   SET status = 'resolved', resolved_at = t1, checked_at = t1,
                       value = COALESCE(m.v, x.value),
                       threshold = COALESCE(m.limit_value, x.threshold)
                 WHERE x.id = open_id;
                changed := changed || open_id;
            END IF;
        END LOOP;

        -- open alerts on operations the rule no longer reaches (no calls in
        -- the window, or the rule changed) are resolved
        WITH u AS (
            UPDATE @extschema@.performance_alerts x
               SET status = 'resolved', resolved_at = t1, checked_at = t1
             WHERE x.rule = r.name AND x.status = 'firing' AND x.checked_at < t1
            RETURNING x.id)
        SELECT changed || COALESCE(array_agg(u.id), '{}') INTO changed FROM u;
    END LOOP;

    -- alerts of disabled rules are resolved too
    WITH u AS (
        UPDATE @extschema@.performance_alerts x
           SET status = 'resolved', resolved_at = t1, checked_at = t1
          FROM @extschema@.performance_alert_rules d
         WHERE d.name = x.rule AND NOT d.enabled AND x.status = 'firing'
        RETURNING x.id)
    SELECT changed || COALESCE(array_agg(u.id), '{}') INTO changed FROM u;

    -- every change: returned, and told to the listeners
    FOR ch IN
        SELECT x.rule, x.operation, x.metric, x.value, x.threshold, x.status,
               d.comparator, d."window"
          FROM @extschema@.performance_alerts x
          JOIN @extschema@.performance_alert_rules d ON d.name = x.rule
         WHERE x.id = ANY (changed)
         ORDER BY x.rule, x.operation NULLS FIRST
    LOOP
        rule := ch.rule; operation := ch.operation; metric := ch.metric;
        value := ch.value; threshold := ch.threshold; status := ch.status;
        PERFORM pg_notify('ppprof_alerts', jsonb_build_object(
            'status', ch.status, 'rule', ch.rule, 'operation', ch.operation,
            'metric', ch.metric, 'value', ch.value, 'comparator', ch.comparator,
            'threshold', ch.threshold, 'window', ch."window"::text,
            'database', current_database(), 'at', t1)::text);
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_check_alerts() IS
    'Evaluates the enabled alert rules; records fired and resolved alerts (never two open ones for a rule and operation), sends NOTIFY ppprof_alerts, and returns the changes';

--
-- Retention
--

CREATE FUNCTION @extschema@.pp_purge(older_than interval,
                                     batch_size integer DEFAULT 10000)
RETURNS TABLE (table_name text, deleted bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
    t record;
    n bigint;
    total bigint;
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF older_than < '0'::interval THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass an interval such as ''30 days''.';
    END IF;
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := now() - older_than;

    -- each table oldest first, batch by batch through its time column; an
    -- open alert has no resolved_at, so it stays however old
    FOR t IN SELECT * FROM (VALUES ('performance_profiles', 'created_at'),
                                   ('performance_bottlenecks', 'detected_at'),
                                   ('performance_snapshots', 'taken_at'),
                                   ('performance_alerts', 'resolved_at')) AS v(tab, col)
    LOOP
        total := 0;
        LOOP
            EXECUTE format('DELETE FROM %1$I.%2$I WHERE id IN '
                           '(SELECT id FROM %1$I.%2$I WHERE %3$I < $1 ORDER BY %3$I LIMIT $2)',
                           '@extschema@', t.tab, t.col)
              USING cutoff, batch_size;
            GET DIAGNOSTICS n = ROW_COUNT;
            total := total + n;
            EXIT WHEN n < batch_size;
        END LOOP;
        table_name := t.tab;
        deleted := total;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_purge(interval, integer) IS
    'Deletes profiles, bottlenecks, snapshots and resolved alerts older than older_than, in batches; returns how many of each';

--
-- pg_cron jobs
--

CREATE FUNCTION @extschema@.pp_schedule_jobs(
    snapshot text DEFAULT '* * * * *',
    detect text DEFAULT '*/5 * * * *',
    alerts text DEFAULT '*/5 * * * *',
    baseline text DEFAULT '17 3 * * *',
    purge text DEFAULT '47 3 * * *',
    retention interval DEFAULT '30 days')
RETURNS TABLE (job_name text, schedule text, command text, jobid bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s text := quote_ident('@extschema@');
    j record;
    cron_db text := current_setting('cron.database_name', true);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF cron_db IS NOT NULL AND cron_db <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in this database'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('pg_cron keeps its jobs in database "%s".', cron_db),
                      HINT = format('Register the jobs from database "%s" with cron.schedule_in_database(), giving database => %L (docs/operations.md), or set cron.database_name to this database.',
                                    cron_db, current_database());
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'ppprof schedules its jobs through pg_cron.',
                  HINT = 'Install pg_cron (Debian: postgresql-15-cron), add it to shared_preload_libraries, set cron.database_name, restart, then run CREATE EXTENSION pg_cron.';
    END IF;
    IF retention IS NULL OR retention < '0'::interval THEN
        RAISE EXCEPTION 'retention must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR j IN
        SELECT * FROM (VALUES
            ('ppprof_snapshot', snapshot, format('SELECT %s.pp_snapshot()', s)),
            ('ppprof_detect_bottlenecks', detect, format('SELECT %s.pp_detect_bottlenecks(''1 hour'')', s)),
            ('ppprof_check_alerts', alerts, format('SELECT %s.pp_check_alerts()', s)),
            ('ppprof_baseline', baseline, format('SELECT %s.pp_capture_baseline(''default'', ''7 days'')', s)),
            ('ppprof_purge', purge, format('SELECT %s.pp_purge(%L)', s, retention::text))
        ) AS v(name, sched, cmd)
    LOOP
        IF j.sched IS NULL THEN
            -- not wanted: remove it if an earlier call scheduled it
            EXECUTE 'SELECT count(cron.unschedule(c.jobid)) FROM cron.job c
                      WHERE c.jobname = $1 AND c.username = current_user
                        AND c.database = current_database()' USING j.name;
            CONTINUE;
        END IF;
        job_name := j.name;
        schedule := j.sched;
        command := j.cmd;
        EXECUTE 'SELECT cron.schedule($1, $2, $3)'
           INTO jobid USING j.name, j.sched, j.cmd;
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_schedule_jobs(text, text, text, text, text, interval) IS
    'Registers (or updates) ppprof''s pg_cron jobs by name; a NULL schedule removes that job';

CREATE FUNCTION @extschema@.pp_unschedule_jobs()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'There are no ppprof jobs to remove without pg_cron.';
    END IF;
    EXECUTE $q$
        SELECT count(cron.unschedule(j.jobid))::integer
          FROM cron.job j
         WHERE j.jobname IN ('ppprof_snapshot', 'ppprof_detect_bottlenecks',
                             'ppprof_check_alerts', 'ppprof_baseline', 'ppprof_purge')
           AND j.username = current_user
           AND j.database = current_database()
    $q$ INTO n;
    RETURN n;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_unschedule_jobs() IS
    'Removes the pg_cron jobs pp_schedule_jobs() registered for this database and user; returns how many';

--
-- pg_dump keeps users' rows; security as in 1.0 (docs/security.md): row
-- level security without policies, nothing for PUBLIC, anon or
-- authenticated; service_role reads and writes the tables and runs what is
-- not administration.
--

SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_baselines', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_baseline_operations', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_alert_rules', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.performance_alerts', '');

ALTER TABLE @extschema@.performance_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_baseline_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_alert_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.performance_alerts ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON @extschema@.performance_snapshots, @extschema@.performance_baselines,
    @extschema@.performance_baseline_operations, @extschema@.performance_alert_rules,
    @extschema@.performance_alerts FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.pp_range_stats(tstzrange),
    @extschema@.pp_compare(tstzrange, tstzrange),
    @extschema@.pp_trends(interval, interval), @extschema@.pp_trend_summary(interval),
    @extschema@.pp_snapshot_probe(), @extschema@.pp_snapshot(),
    @extschema@.pp_snapshots(interval),
    @extschema@.pp_capture_baseline(text, interval, float),
    @extschema@.pp_baseline_check(text, interval, integer),
    @extschema@.pp_check_alerts(), @extschema@.pp_purge(interval, integer),
    @extschema@.pp_schedule_jobs(text, text, text, text, text, interval),
    @extschema@.pp_unschedule_jobs(), @extschema@.pp_begin(text, jsonb, text),
    @extschema@.pp_end(bigint, text), @extschema@.pp_time(text, text), @extschema@.pp_spans()
    FROM PUBLIC;

DO $$
DECLARE
    r text;
    tables text := '@extschema@.performance_snapshots, @extschema@.performance_baselines, '
        '@extschema@.performance_baseline_operations, @extschema@.performance_alert_rules, '
        '@extschema@.performance_alerts';
    app text := '@extschema@.pp_range_stats(tstzrange), '
        '@extschema@.pp_compare(tstzrange, tstzrange), '
        '@extschema@.pp_trends(interval, interval), @extschema@.pp_trend_summary(interval), '
        '@extschema@.pp_snapshots(interval), @extschema@.pp_baseline_check(text, interval, integer), '
        '@extschema@.pp_begin(text, jsonb, text), @extschema@.pp_end(bigint, text), '
        '@extschema@.pp_time(text, text), @extschema@.pp_spans()';
    admin text := '@extschema@.pp_snapshot_probe(), @extschema@.pp_snapshot(), '
        '@extschema@.pp_capture_baseline(text, interval, float), @extschema@.pp_check_alerts(), '
        '@extschema@.pp_purge(interval, integer), '
        '@extschema@.pp_schedule_jobs(text, text, text, text, text, interval), '
        '@extschema@.pp_unschedule_jobs()';
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %I', tables, r);
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s, %s FROM %I', app, admin, r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO service_role', tables);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM service_role', admin);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO service_role', app);
    END IF;
END;
$$;
