/* sql/ppprof--1.2--1.3.sql -- ppprof 1.3: the fixes of an outside audit
 * (privileges, search_path, alert notifications, quoted schemas) */

\echo Use "ALTER EXTENSION ppprof UPDATE TO '1.3'" to load this file. \quit

--
-- profile_data is compressed with lz4 where the server has it (Debian's and
-- Supabase's builds do): a 2 kB profile pushed over the TOAST threshold by the
-- analysis columns is compressed at about a quarter of pglz's cost, and read
-- back faster by the rebuild and the windows' table reads.  Rows already
-- stored keep their compression; a server built without lz4 keeps pglz.
--

DO $$
BEGIN
    ALTER TABLE @extschema@.performance_profiles
        ALTER COLUMN profile_data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'profile_data keeps the default compression: this server was built without lz4';
END;
$$;

--
-- Alert rules: a name of at most 200 characters.  An 8,000-character name
-- made pg_notify refuse the payload and aborted the whole pp_check_alerts()
-- run.  Longer names of existing rules are shortened (their alerts follow
-- through ON UPDATE CASCADE), kept unique by a hash of the old name.
--

DO $$
DECLARE
    old_name text;
    new_name text;
BEGIN
    FOR old_name IN SELECT r.name FROM @extschema@.performance_alert_rules r
                WHERE pg_catalog.char_length(r.name) > 200
                ORDER BY r.name
    LOOP
        new_name := pg_catalog.left(old_name, 185) || ' #' || pg_catalog.left(pg_catalog.md5(old_name), 12);
        UPDATE @extschema@.performance_alert_rules r SET name = new_name
         WHERE r.name = old_name;
        RAISE WARNING 'alert rule "%..." renamed to "%"', pg_catalog.left(old_name, 40), new_name
            USING DETAIL = 'Alert rule names are now limited to 200 characters; its alerts follow the new name.';
    END LOOP;
END;
$$;

ALTER TABLE @extschema@.performance_alert_rules
    ADD CONSTRAINT name_at_most_200_characters
    CHECK (pg_catalog.char_length(name) <= 200);

--
-- pp_check_alerts: each rule in its own subtransaction, so that a rule whose
-- evaluation fails is reported with a WARNING and the others are still
-- checked; a notification that would not fit pg_notify's limit is sent with
-- its names cut (and the alert's id, present in every payload).
--

CREATE OR REPLACE FUNCTION @extschema@.pp_check_alerts()
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
    mine uuid[];
    ch record;
    payload text;
    failure text;
BEGIN
    FOR r IN SELECT * FROM @extschema@.performance_alert_rules x
              WHERE x.enabled ORDER BY x.name
    LOOP
      BEGIN
        mine := '{}';
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
                    mine := mine || new_id;
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
                mine := mine || open_id;
            END IF;
        END LOOP;

        -- open alerts on operations the rule no longer reaches (no calls in
        -- the window, or the rule changed) are resolved
        WITH u AS (
            UPDATE @extschema@.performance_alerts x
               SET status = 'resolved', resolved_at = t1, checked_at = t1
             WHERE x.rule = r.name AND x.status = 'firing' AND x.checked_at < t1
            RETURNING x.id)
        SELECT mine || COALESCE(array_agg(u.id), '{}') INTO mine FROM u;
        changed := changed || mine;
      EXCEPTION WHEN OTHERS THEN
        -- this rule's changes are rolled back; the next rules are checked
        GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT;
        RAISE WARNING 'alert rule "%" not checked', r.name
            USING DETAIL = format('Its evaluation failed: %s.', failure),
                  HINT = 'The other rules were checked. Correct or disable this one.';
      END;
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
        SELECT x.id, x.rule, x.operation, x.metric, x.value, x.threshold, x.status,
               d.comparator, d."window"
          FROM @extschema@.performance_alerts x
          JOIN @extschema@.performance_alert_rules d ON d.name = x.rule
         WHERE x.id = ANY (changed)
         ORDER BY x.rule, x.operation NULLS FIRST
    LOOP
        rule := ch.rule; operation := ch.operation; metric := ch.metric;
        value := ch.value; threshold := ch.threshold; status := ch.status;
        payload := jsonb_build_object(
            'id', ch.id, 'status', ch.status, 'rule', ch.rule,
            'operation', ch.operation, 'metric', ch.metric, 'value', ch.value,
            'comparator', ch.comparator, 'threshold', ch.threshold,
            'window', ch."window"::text, 'database', current_database(),
            'at', t1)::text;
        -- pg_notify refuses 8000 bytes or more.  Operation names reach 1000
        -- bytes, six times that once escaped in JSON: cut to 200 characters
        -- (at most 1,200 bytes each), the payload stays under 3,200 bytes,
        -- and the listener reads the rest from performance_alerts by id.
        IF octet_length(payload) >= 8000 THEN
            payload := jsonb_build_object(
                'id', ch.id, 'status', ch.status, 'rule', left(ch.rule, 200),
                'operation', left(ch.operation, 200), 'metric', ch.metric,
                'value', ch.value, 'comparator', ch.comparator,
                'threshold', ch.threshold, 'window', ch."window"::text,
                'database', current_database(), 'at', t1,
                'truncated', true)::text;
        END IF;
        PERFORM pg_notify('ppprof_alerts', payload);
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_check_alerts() IS
    'Evaluates the enabled alert rules, each on its own (a failing rule is skipped with a WARNING); records fired and resolved alerts (never two open ones for a rule and operation), sends NOTIFY ppprof_alerts, and returns the changes';

--
-- The extension's schema inside a string: '@extschema@' is substituted
-- already quoted ('"Prof"'), so quoting it again named a relation
-- ""Prof"".  pp_purge and the job commands now read the schema's name from
-- pg_extension and quote it once.
--

CREATE OR REPLACE FUNCTION @extschema@.pp_purge(older_than interval,
                                                batch_size integer DEFAULT 10000)
RETURNS TABLE (table_name text, deleted bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cutoff timestamptz;
    s name;
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
    SELECT ns.nspname INTO s
      FROM pg_extension e JOIN pg_namespace ns ON ns.oid = e.extnamespace
     WHERE e.extname = 'ppprof';

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
                           s, t.tab, t.col)
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

--
-- pg_cron job commands.  A job runs with its user's search_path, which a
-- less trusted role may be able to write to.  Each command first pins the
-- path for its transaction (so that nothing it calls, C included, resolves
-- a name through a writable schema), names the function with its schema
-- and gives each argument its exact type, so that no look-alike in that
-- schema (a pp_purge(text) beside pp_purge(interval, integer)) can be a
-- better match.  pp_job_commands() says what they are, for
-- pp_schedule_jobs() and for any other scheduler.
--

CREATE FUNCTION @extschema@.pp_job_commands(retention interval DEFAULT '30 days')
RETURNS TABLE (job_name text, command text)
LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s text;
BEGIN
    IF retention IS NULL OR retention < '0'::interval THEN
        RAISE EXCEPTION 'retention must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT format('%I', ns.nspname) INTO s
      FROM pg_extension e JOIN pg_namespace ns ON ns.oid = e.extnamespace
     WHERE e.extname = 'ppprof';
    RETURN QUERY
    SELECT v.job_name, 'SET LOCAL search_path = pg_catalog, pg_temp; ' || v.call
      FROM (VALUES
        ('ppprof_snapshot', format('SELECT %s.pp_snapshot()', s)),
        ('ppprof_detect_bottlenecks',
         format('SELECT %s.pp_detect_bottlenecks(''1 hour''::pg_catalog.interval)', s)),
        ('ppprof_check_alerts', format('SELECT %s.pp_check_alerts()', s)),
        ('ppprof_baseline',
         format('SELECT %s.pp_capture_baseline(''default''::pg_catalog.text, ''7 days''::pg_catalog.interval)', s)),
        ('ppprof_purge',
         format('SELECT %s.pp_purge(%L::pg_catalog.interval)', s, retention::text))
      ) AS v(job_name, call);
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_job_commands(interval) IS
    'The SQL command of each ppprof job as pp_schedule_jobs() registers it: search_path pinned for its transaction, the function schema-qualified, each argument with its exact type';

CREATE OR REPLACE FUNCTION @extschema@.pp_schedule_jobs(
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
    j record;
    cron_db text := current_setting('cron.database_name', true);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF cron_db IS NOT NULL AND cron_db <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in this database'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('pg_cron keeps its jobs in database "%s".', cron_db),
                      HINT = format('Register the jobs from database "%s" with cron.schedule_in_database(), giving database => %L and the commands of pp_job_commands() (docs/operations.md), or set cron.database_name to this database.',
                                    cron_db, current_database());
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'ppprof schedules its jobs through pg_cron.',
                  HINT = 'Install pg_cron (Debian: postgresql-15-cron), add it to shared_preload_libraries, set cron.database_name, restart, then run CREATE EXTENSION pg_cron.';
    END IF;
    FOR j IN
        SELECT c.job_name AS name, c.command AS cmd,
               CASE c.job_name WHEN 'ppprof_snapshot' THEN snapshot
                               WHEN 'ppprof_detect_bottlenecks' THEN detect
                               WHEN 'ppprof_check_alerts' THEN alerts
                               WHEN 'ppprof_baseline' THEN baseline
                               ELSE purge END AS sched
          FROM @extschema@.pp_job_commands(retention) WITH ORDINALITY AS c(job_name, command, n)
         ORDER BY c.n
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

--
-- Baselines keep the operations a window holds apart: the row into which a
-- window folds the operations beyond ppprof.max_window_operations
-- (operation_type '(folded)', no percentiles) is neither captured nor
-- reported as a new operation.
--

CREATE OR REPLACE FUNCTION @extschema@.pp_capture_baseline(name text DEFAULT 'default',
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

CREATE OR REPLACE FUNCTION @extschema@.pp_baseline_check(name text DEFAULT 'default',
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
     WHERE c.operation IS NOT NULL AND c.operation_type <> '(folded)'
       AND c.calls >= min_calls
       AND NOT EXISTS (SELECT 1 FROM @extschema@.performance_baseline_operations o
                        WHERE o.baseline = b.name AND o.operation = c.operation)
     ORDER BY c.operation;
END;
$$;

--
-- pp_snapshot runs as its caller.  It was SECURITY DEFINER so that its
-- counts of pg_stat_activity would not depend on the caller; but then a
-- role granted it ran, as the owner, the writes to performance_snapshots,
-- any trigger on that table, and a deletion whose reach its own
-- ppprof.snapshot_retention decides.  The owner, who runs the job, is a
-- superuser (ppprof is not a trusted extension) and sees every backend
-- anyway.  What keeps the owner's own job safe is below: no other role may
-- add a trigger (or a rule or policy, which only the owner may) to the table.
--

-- Both snapshot functions also name their first column "timestamp", as the
-- seed's PerformanceSnapshot does; taken_at stays, as the last column.
DROP FUNCTION @extschema@.pp_snapshot();
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

DROP FUNCTION @extschema@.pp_snapshots(interval);
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
COMMENT ON FUNCTION @extschema@.pp_snapshot() IS
    'Captures, stores and returns a performance snapshot as the calling role; drops snapshots older than ppprof.snapshot_retention';

--
-- Privileges, from a clean slate.  Default privileges (Supabase's give
-- anon, authenticated and service_role ALL on every new table, sequence
-- and function) left service_role with TRIGGER, TRUNCATE and REFERENCES,
-- and each upgrade script revoked only some of what they gave.  Every
-- privilege of PUBLIC, anon, authenticated and service_role on every
-- relation and function of the extension is revoked, then exactly the
-- grants of docs/security.md are made.  Grants to other roles are kept.
--

DO $$
DECLARE
    obj text;
    r text;
    grantees text[] := ARRAY['PUBLIC'];
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            grantees := grantees || pg_catalog.quote_ident(r);
        END IF;
    END LOOP;

    FOR obj IN
        SELECT pg_catalog.format(CASE c.relkind WHEN 'S' THEN 'SEQUENCE %I.%I' ELSE 'TABLE %I.%I' END,
                                 n.nspname, c.relname)
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_class c ON c.oid = d.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'ppprof')
           AND d.deptype = 'e'
        UNION ALL
        SELECT pg_catalog.format('FUNCTION %I.%I(%s)', n.nspname, p.proname,
                                 pg_catalog.pg_get_function_identity_arguments(p.oid))
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_proc p ON p.oid = d.objid
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
           AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'ppprof')
           AND d.deptype = 'e'
    LOOP
        FOREACH r IN ARRAY grantees LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s CASCADE', obj, r);
        END LOOP;
    END LOOP;

    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        -- the application's server side: reads and writes rows (no
        -- TRUNCATE, TRIGGER or REFERENCES)
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            @extschema@.performance_profiles, @extschema@.performance_bottlenecks,
            @extschema@.performance_thresholds, @extschema@.operation_categories,
            @extschema@.optimization_catalog, @extschema@.performance_snapshots,
            @extschema@.performance_baselines, @extschema@.performance_baseline_operations,
            @extschema@.performance_alert_rules, @extschema@.performance_alerts
            TO service_role;
        -- ingest, spans, and the read functions; not pp_time (it runs any
        -- statement it is given), nor administration and the jobs
        GRANT EXECUTE ON FUNCTION
            @extschema@.pp_ingest(jsonb, text), @extschema@.pp_ingest_batch(jsonb),
            @extschema@.pp_ingest_jsonl(text), @extschema@.pp_analyze_profile(jsonb),
            @extschema@.pp_begin(text, jsonb, text), @extschema@.pp_end(bigint, text),
            @extschema@.pp_spans(),
            @extschema@.pp_operation_stats(interval), @extschema@.pp_operation_samples(text),
            @extschema@.pp_range_stats(tstzrange), @extschema@.pp_compare(tstzrange, tstzrange),
            @extschema@.pp_trends(interval, interval), @extschema@.pp_trend_summary(interval),
            @extschema@.pp_optimization_report(interval), @extschema@.pp_bottlenecks(interval),
            @extschema@.pp_detect_bottlenecks(interval), @extschema@.pp_info(),
            @extschema@.pp_snapshots(interval), @extschema@.pp_baseline_check(text, interval, integer)
            TO service_role;
    END IF;
END;
$$;

--
-- Triggers that are not ppprof's on ppprof's tables: before 1.3 a role
-- with default privileges could create them, and a trigger runs with the
-- rights of whoever writes the table -- the owner's jobs included.  They
-- are reported, not dropped: only the administrator knows which are hers.
--

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT tg.tgname, n.nspname, c.relname, pg_catalog.pg_get_userbyid(p.proowner) AS fowner
          FROM pg_catalog.pg_trigger tg
          JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_catalog.pg_proc p ON p.oid = tg.tgfoid
          JOIN pg_catalog.pg_depend d ON d.objid = c.oid
               AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
               AND e.extname = 'ppprof'
         WHERE NOT tg.tgisinternal
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend f
                            WHERE f.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                              AND f.objid = tg.tgfoid
                              AND f.refobjid = e.oid
                              AND f.deptype = 'e')
         ORDER BY n.nspname, c.relname, tg.tgname
    LOOP
        RAISE WARNING 'trigger "%" on table %.% is not ppprof''s',
                      t.tgname, pg_catalog.quote_ident(t.nspname), pg_catalog.quote_ident(t.relname)
            USING DETAIL = pg_catalog.format('Its function belongs to role "%s". Before ppprof 1.3 roles with default privileges could create triggers on these tables, and a trigger runs with the rights of whoever writes the table, the owner''s jobs included.', t.fowner),
                  HINT = pg_catalog.format('Drop it unless you created it: DROP TRIGGER %I ON %I.%I;',
                                           t.tgname, t.nspname, t.relname);
    END LOOP;
END;
$$;
