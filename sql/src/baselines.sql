--
-- sql/src/baselines.sql -- named baselines: what normal looked like over a
-- window, captured from pp_range_stats(), and the deviations of the last
-- window from one
--

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

--
-- Baselines keep the operations a window holds apart: the row into which a
-- window folds the operations beyond ppprof.max_window_operations
-- (operation_type '(folded)', no percentiles) is neither captured nor
-- reported as a new operation.
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
      FROM pp_baseline_stats s
     WHERE s.operation IS NOT NULL AND s.operation_type <> '(folded)';
    GET DIAGNOSTICS n = ROW_COUNT;
    DROP TABLE pp_baseline_stats;
    RETURN n;
END;
$$;

COMMENT ON FUNCTION @extschema@.pp_capture_baseline(text, interval, float) IS
    'Stores (or replaces) a named baseline of the last window: per-operation p50/p95/p99, avg, error rate, calls per hour, and global KPIs; returns the operations captured';

CREATE FUNCTION @extschema@.pp_baseline_check(name text DEFAULT 'default',
                                              "window" interval DEFAULT '1 hour',
                                              min_calls integer DEFAULT 5,
                                              dimension text DEFAULT NULL,
                                              value text DEFAULT NULL)
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
    IF (dimension IS NULL) <> (value IS NULL) THEN
        RAISE EXCEPTION 'dimension and value go together'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass both, as in dimension => ''release'', value => ''r42'', or neither.';
    END IF;
    tol := b.tolerance_pct / 100.0;

    RETURN QUERY
    -- the window: all nodes, or those whose value of the dimension is value
    -- (then no profiles row and no cache columns: docs/reference.md)
    WITH cur AS (
        SELECT r.operation, r.operation_type, r.calls, r.avg_ms, r.p50_ms, r.p95_ms,
               r.p99_ms, r.error_rate, r.cache_hit_rate, r.cache_lookups
          FROM @extschema@.pp_range_stats(tstzrange(now() - "window", now(), '[]')) r
         WHERE pp_baseline_check.dimension IS NULL
        UNION ALL
        SELECT d.operation, d.operation_type, d.calls, d.avg_ms, d.p50_ms, d.p95_ms,
               d.p99_ms, d.error_rate, NULL::float, NULL::bigint
          FROM @extschema@.pp_dimension_stats("window", pp_baseline_check.dimension) d
         WHERE pp_baseline_check.dimension IS NOT NULL
           AND d.dimension_value = pp_baseline_check.value AND NOT d.folded
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
           -- a slice's traffic is not the baseline's
           AND (pp_baseline_check.dimension IS NULL OR m.metric <> 'calls_per_hour')
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
    WITH cur AS (
        SELECT r.operation, r.operation_type, r.calls, r.avg_ms, r.p50_ms, r.p95_ms,
               r.p99_ms, r.error_rate, r.cache_hit_rate, r.cache_lookups
          FROM @extschema@.pp_range_stats(tstzrange(now() - "window", now(), '[]')) r
         WHERE pp_baseline_check.dimension IS NULL
        UNION ALL
        SELECT d.operation, d.operation_type, d.calls, d.avg_ms, d.p50_ms, d.p95_ms,
               d.p99_ms, d.error_rate, NULL::float, NULL::bigint
          FROM @extschema@.pp_dimension_stats("window", pp_baseline_check.dimension) d
         WHERE pp_baseline_check.dimension IS NOT NULL
           AND d.dimension_value = pp_baseline_check.value AND NOT d.folded
    )
    SELECT c.operation, c.operation_type, 'new_operation'::text, NULL::float,
           c.calls::float, NULL::float, NULL::float, NULL::float, 'info'::text,
           format('%s was not in baseline "%s" (%s calls now)', c.operation, b.name, c.calls)
      FROM cur c
     WHERE c.operation IS NOT NULL AND c.operation_type <> '(folded)'
       AND c.calls >= min_calls
       AND NOT EXISTS (SELECT 1 FROM @extschema@.performance_baseline_operations o
                        WHERE o.baseline = b.name AND o.operation = c.operation)
     ORDER BY c.operation;
END;
$$;

COMMENT ON FUNCTION @extschema@.pp_baseline_check(text, interval, integer, text, text) IS
    'Deviations of the last window (or of its nodes whose dimension has value) from a named baseline, with severity; operations within the tolerance return no row';
