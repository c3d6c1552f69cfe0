-- search_path: look-alike operators, functions and relations planted in a
-- schema on the caller's search_path are never run by ppprof's SQL and
-- PL/pgSQL functions, its trigger function, or the commands of its pg_cron
-- jobs -- whether service_role or the owner (as its jobs do) calls them.
CREATE ROLE service_role NOLOGIN BYPASSRLS;
CREATE EXTENSION ppprof;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'q' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 100 + g,
         'children', jsonb_build_array(jsonb_build_object('operation_name', 'vector_search',
                                                          'duration_ms', 50 + g))),
       now() - g * interval '1 minute'
  FROM generate_series(1, 20) g;
INSERT INTO performance_alert_rules (name, operation, metric, threshold, "window")
VALUES ('slow search', 'vector_search', 'avg', 10, '1 hour');

-- service_role's own schema, with a record of every planted object run
CREATE SCHEMA svc AUTHORIZATION service_role;
SET ROLE service_role;
CREATE TABLE svc.hits (planted text, as_superuser boolean);
GRANT INSERT ON svc.hits TO PUBLIC;
CREATE FUNCTION svc.hit(what text) RETURNS void LANGUAGE sql
AS $$ INSERT INTO svc.hits
      SELECT what, r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user $$;

-- operators with the exact argument types of those the bodies use
CREATE FUNCTION svc.tstz_cmp(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('timestamptz operator'); RETURN a OPERATOR(pg_catalog.>=) b; END $$;
CREATE OPERATOR svc.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = svc.tstz_cmp);
CREATE OPERATOR svc.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = svc.tstz_cmp);
CREATE OPERATOR svc.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = svc.tstz_cmp);
CREATE FUNCTION svc.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('text ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR svc.= (LEFTARG = text, RIGHTARG = text, FUNCTION = svc.text_eq);
CREATE FUNCTION svc.float_cmp(a float8, b float8) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('float8 operator'); RETURN a OPERATOR(pg_catalog.>) b; END $$;
CREATE OPERATOR svc.> (LEFTARG = float8, RIGHTARG = float8, FUNCTION = svc.float_cmp);
CREATE OPERATOR svc.< (LEFTARG = float8, RIGHTARG = float8, FUNCTION = svc.float_cmp);
CREATE FUNCTION svc.interval_lt(a interval, b interval) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('interval <'); RETURN a OPERATOR(pg_catalog.<) b; END $$;
CREATE OPERATOR svc.< (LEFTARG = interval, RIGHTARG = interval, FUNCTION = svc.interval_lt);
CREATE FUNCTION svc.uuid_eq(a uuid, b uuid) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('uuid ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR svc.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = svc.uuid_eq);
-- functions the bodies call
CREATE FUNCTION svc.now() RETURNS timestamptz LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('now()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION svc.tstzrange(a timestamptz, b timestamptz, c text) RETURNS tstzrange LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('tstzrange()'); RETURN pg_catalog.tstzrange(a, b, c); END $$;
CREATE FUNCTION svc.pg_notify(a text, b text) RETURNS void LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('pg_notify()'); END $$;
CREATE FUNCTION svc.current_database() RETURNS name LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('current_database()'); RETURN pg_catalog.current_database(); END $$;
-- relations the bodies read
CREATE VIEW svc.pg_extension AS
SELECT e.oid, e.extname, 'svc'::regnamespace::oid AS extnamespace FROM pg_catalog.pg_extension e;
CREATE TABLE svc.performance_profiles (LIKE public.performance_profiles);
RESET ROLE;

-- the plants work: a statement of the caller's own runs them
SET search_path = svc, pg_catalog, public;
SELECT now() >= now() - interval '1 hour' AS planted_ran;
SELECT planted, as_superuser FROM svc.hits ORDER BY 1;
TRUNCATE svc.hits;

-- the owner, as its pg_cron jobs would, with that search_path
SELECT count(*) AS snapshots FROM pp_snapshot();
SELECT count(*) AS stored FROM pp_snapshots('1 hour');
SELECT pp_capture_baseline('normal', '1 hour');
SELECT count(*) >= 0 AS checked FROM pp_baseline_check('normal', '1 hour', 1);
SELECT rule, operation, metric, status FROM pp_check_alerts();
SELECT * FROM pp_purge('15 minutes 30 seconds');
SELECT * FROM pp_job_commands();
SELECT * FROM pp_schedule_jobs();
SELECT pp_unschedule_jobs();
-- pp_config_replace, the trigger turning a seeded key's insert into an update
INSERT INTO performance_thresholds (operation_type, threshold_ms) VALUES ('retrieval', 600);
RESET search_path;
SELECT threshold_ms FROM performance_thresholds WHERE operation_type = 'retrieval';
SELECT planted, as_superuser FROM svc.hits ORDER BY 1;

-- service_role with the same path, through what it may run
SET ROLE service_role;
SET search_path = svc, pg_catalog, public;
SELECT count(*) AS stored FROM pp_snapshots('1 hour');
SELECT count(*) >= 0 AS checked FROM pp_baseline_check('normal', '1 hour', 1);
SELECT operation, dimension_value, calls FROM pp_dimension_stats('1 hour', 'model') ORDER BY 1;
SELECT count(*) AS sliced_checks FROM pp_baseline_check('normal', '1 hour', 1, 'model', 'none');
SELECT operation, calls_before, calls_after
  FROM pp_compare_values(pg_catalog.tstzrange(pg_catalog.now() OPERATOR(pg_catalog.-) interval '1 hour',
                                              pg_catalog.now()), 'release', 'a', 'b') ORDER BY 1;
RESET search_path;
RESET ROLE;
SELECT planted, as_superuser FROM svc.hits ORDER BY 1;

-- the job commands: search_path pinned, the function schema-qualified, each
-- argument with its type.  With look-alikes in the extension's own schema
-- (as a role that may create there would plant them) and the hostile path,
-- each runs ppprof's function and nothing planted; the 1.2 form of the
-- purge command ran the look-alike
CREATE FUNCTION public.pp_purge(older_than text) RETURNS void LANGUAGE sql
AS $$ SELECT svc.hit('public.pp_purge(text)') $$;
CREATE FUNCTION public.pp_detect_bottlenecks(w text) RETURNS void LANGUAGE sql
AS $$ SELECT svc.hit('public.pp_detect_bottlenecks(text)') $$;
CREATE FUNCTION public.pp_capture_baseline(n text, w text) RETURNS void LANGUAGE sql
AS $$ SELECT svc.hit('public.pp_capture_baseline(text, text)') $$;
CREATE TEMP TABLE jobs AS SELECT * FROM pp_job_commands('10 minutes 30 seconds');
SET search_path = svc, public, pg_catalog;
SELECT public.pp_purge('30 days');
SELECT planted FROM svc.hits;
TRUNCATE svc.hits;
DO $$
DECLARE
    j record;
BEGIN
    FOR j IN SELECT * FROM pg_temp.jobs LOOP
        -- each command in the hostile path (a command's SET LOCAL lasts
        -- until the end of this transaction)
        PERFORM pg_catalog.set_config('search_path', 'svc, public, pg_catalog', true);
        EXECUTE j.command;
    END LOOP;
END;
$$;
RESET search_path;
SELECT planted, as_superuser FROM svc.hits ORDER BY 1;
-- what the commands did: a second snapshot, the default baseline, the
-- purge of the profiles older than 10 minutes and a half (five more)
SELECT count(*) AS snapshots FROM performance_snapshots;
SELECT name FROM performance_baselines ORDER BY 1;
SELECT count(*) AS profiles_left FROM performance_profiles;

DROP FUNCTION public.pp_purge(text), public.pp_detect_bottlenecks(text),
    public.pp_capture_baseline(text, text);
DROP EXTENSION ppprof;

-- installed into a schema that already holds look-alikes: the checks that
-- compare a float column with an integer constant bound the planted
-- float8-integer operators (better matches than pg_catalog's float8 ones),
-- and the seed's INSERT ran them as the installing superuser.  They name
-- pg_catalog's now.  (Any role that can create in the target schema can
-- still make CREATE EXTENSION fail: install where only trusted roles can.)
CREATE SCHEMA trap;
CREATE FUNCTION trap.float_int_cmp(a float8, b integer) RETURNS boolean LANGUAGE plpgsql
AS $$ BEGIN PERFORM svc.hit('float8-integer operator'); RETURN true; END $$;
CREATE OPERATOR trap.> (LEFTARG = float8, RIGHTARG = integer, FUNCTION = trap.float_int_cmp);
CREATE OPERATOR trap.>= (LEFTARG = float8, RIGHTARG = integer, FUNCTION = trap.float_int_cmp);
CREATE OPERATOR trap.<= (LEFTARG = float8, RIGHTARG = integer, FUNCTION = trap.float_int_cmp);
-- (a statement of the caller's own finds them)
SET search_path = trap, pg_catalog;
SELECT 1.5::float8 > 2 AS planted_answer;
RESET search_path;
SELECT planted, as_superuser FROM svc.hits;
TRUNCATE svc.hits;
CREATE EXTENSION ppprof WITH SCHEMA trap;
SELECT count(*) AS seeded FROM trap.performance_thresholds;
INSERT INTO trap.performance_baselines (name, window_start, window_end, tolerance_pct,
                                        profiles, profiles_per_hour)
VALUES ('b', now(), now(), 10, 0, 0);
INSERT INTO trap.performance_alert_rules (name, metric, baseline, deviation_pct)
VALUES ('r', 'p95', 'b', 10);
-- the checks still refuse what they refuse
\set VERBOSITY terse
INSERT INTO trap.performance_thresholds (operation_type, threshold_ms) VALUES ('x', -1);
\set VERBOSITY default
SELECT planted, as_superuser FROM svc.hits;
SELECT conrelid::regclass, conname FROM pg_constraint
 WHERE connamespace = 'trap'::regnamespace AND pg_get_constraintdef(oid) LIKE '%OPERATOR(trap.%';
DROP EXTENSION ppprof;
DROP SCHEMA trap CASCADE;

DROP SCHEMA svc CASCADE;
DROP ROLE service_role;
