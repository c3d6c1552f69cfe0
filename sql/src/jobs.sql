--
-- sql/src/jobs.sql -- retention (pp_purge) and ppprof's pg_cron jobs: their
-- commands, and registering and removing them
--

--
-- The extension's schema inside a string: '@extschema@' is substituted
-- already quoted ('"Prof"'), and quoting it again would name a relation
-- ""Prof"".  pp_purge and the job commands read the schema's name from
-- pg_extension and quote it once.
--

CREATE FUNCTION @extschema@.pp_purge(older_than interval,
                                                batch_size integer DEFAULT 10000)
RETURNS TABLE (table_name text, deleted bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
-- the rollups of what it deletes stay (docs/scaling.md, "Rollups")
SET ppprof.rollup_keep = on
AS $$
DECLARE
    cutoff timestamptz;
    s name;
    t record;
    n bigint;
    total bigint;
    part record;
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
        -- a partitioned performance_profiles first loses the partitions whose
        -- range ends by the cutoff, whole (ppprof_partitions keeps the
        -- statistics); the rows of the others are deleted below
        FOR part IN
            SELECT ns.nspname, c.relname
              FROM pg_inherits i
              JOIN pg_class c ON c.oid = i.inhrelid
              JOIN pg_namespace ns ON ns.oid = c.relnamespace
             WHERE i.inhparent = format('%I.%I', s, t.tab)::regclass
               AND c.relkind = 'r'
               AND substring(pg_get_expr(c.relpartbound, c.oid)
                             FROM ' TO \(''([^'']*)''\)$')::timestamptz <= cutoff
             ORDER BY 1, 2
        LOOP
            EXECUTE format('SELECT count(*) FROM %I.%I', part.nspname, part.relname) INTO n;
            EXECUTE format('DROP TABLE %I.%I', part.nspname, part.relname);
            total := total + n;
        END LOOP;
        -- (id, time) identifies a row: a partitioned table's key has both
        LOOP
            EXECUTE format('DELETE FROM %1$I.%2$I WHERE (id, %3$I) IN '
                           '(SELECT id, %3$I FROM %1$I.%2$I WHERE %3$I < $1 ORDER BY %3$I LIMIT $2)',
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

COMMENT ON FUNCTION @extschema@.pp_purge(interval, integer) IS
    'Deletes profiles, bottlenecks, snapshots and resolved alerts older than older_than, in batches (and drops the partitions of a partitioned performance_profiles that end by then); returns how many of each';

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
         format('SELECT %s.pp_purge(%L::pg_catalog.interval)', s, retention::text)),
        ('ppprof_otlp_flush',
         format('SELECT %s.pp_otlp_flush(NULL::pg_catalog.interval)', s))
      ) AS v(job_name, call);
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_job_commands(interval) IS
    'The SQL command of each ppprof job as pp_schedule_jobs() registers it: search_path pinned for its transaction, the function schema-qualified, each argument with its exact type';

CREATE FUNCTION @extschema@.pp_schedule_jobs(
    snapshot text DEFAULT '* * * * *',
    detect text DEFAULT '*/5 * * * *',
    alerts text DEFAULT '*/5 * * * *',
    baseline text DEFAULT '17 3 * * *',
    purge text DEFAULT '47 3 * * *',
    retention interval DEFAULT '30 days',
    otlp_flush text DEFAULT '* * * * *')
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
                  HINT = format('Install pg_cron (Debian: postgresql-%s-cron), add it to shared_preload_libraries, set cron.database_name, restart, then run CREATE EXTENSION pg_cron.',
                               current_setting('server_version_num')::int / 10000);
    END IF;
    FOR j IN
        SELECT c.job_name AS name, c.command AS cmd,
               CASE c.job_name WHEN 'ppprof_snapshot' THEN snapshot
                               WHEN 'ppprof_detect_bottlenecks' THEN detect
                               WHEN 'ppprof_check_alerts' THEN alerts
                               WHEN 'ppprof_baseline' THEN baseline
                               WHEN 'ppprof_purge' THEN purge
                               ELSE otlp_flush END AS sched
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

COMMENT ON FUNCTION @extschema@.pp_schedule_jobs(text, text, text, text, text, interval, text) IS
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
                             'ppprof_check_alerts', 'ppprof_baseline', 'ppprof_purge',
                             'ppprof_otlp_flush')
           AND j.username = current_user
           AND j.database = current_database()
    $q$ INTO n;
    RETURN n;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_unschedule_jobs() IS
    'Removes the pg_cron jobs pp_schedule_jobs() registered for this database and user; returns how many';
