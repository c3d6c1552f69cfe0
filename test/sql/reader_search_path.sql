-- reader_search_path: the C readers of performance_profiles run their queries with
-- search_path pinned to pg_catalog, pg_temp (issue 15, finding 1).  A role
-- allowed to read statistics plants a >= operator for timestamptz in a
-- schema of its own, puts that schema first and calls every function that
-- reads the table as the extension's owner: the planted function must never
-- run.  It would record its call in planted_calls (and, run as the owner,
-- could do anything the owner can).
CREATE EXTENSION ppprof;
SELECT pp_reset();

-- rows older than now() with created_at off the minute, so that every
-- window below cuts a bucket and reads that edge from the table
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'sp' || g,
       jsonb_build_object('operation_name', 'rag', 'duration_ms', 10 + g,
                          'children', jsonb_build_array(
                            jsonb_build_object('operation_name', 'vector_search', 'duration_ms', 5 + g))),
       date_trunc('minute', now()) - interval '1 hour' + g * interval '7 seconds'
  FROM generate_series(1, 400) g;

CREATE ROLE sp_reader BYPASSRLS;  -- as Supabase's service_role
CREATE SCHEMA sp_evil AUTHORIZATION sp_reader;
GRANT EXECUTE ON FUNCTION pp_range_stats(tstzrange), pp_operation_stats(interval),
      pp_compare(tstzrange, tstzrange), pp_trends(interval, interval),
      pp_trend_summary(interval), pp_optimization_report(interval, text, text),
      pp_bottlenecks(interval), pp_detect_bottlenecks(interval) TO sp_reader;
GRANT SELECT, INSERT ON performance_bottlenecks TO sp_reader;

SET ROLE sp_reader;
CREATE TABLE sp_evil.planted_calls (op text, who text);
GRANT INSERT ON sp_evil.planted_calls TO PUBLIC;
-- each planted operator records its call, then answers correctly
CREATE FUNCTION sp_evil.cmp(op text, a timestamptz, b timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sp_evil.planted_calls VALUES (op, current_user);
  RETURN CASE op WHEN '>=' THEN a OPERATOR(pg_catalog.>=) b
                 WHEN '<=' THEN a OPERATOR(pg_catalog.<=) b
                 ELSE a OPERATOR(pg_catalog.<) b END;
END $$;
CREATE FUNCTION sp_evil.ge(a timestamptz, b timestamptz) RETURNS boolean
LANGUAGE sql AS $$ SELECT sp_evil.cmp('>=', a, b) $$;
CREATE FUNCTION sp_evil.le(a timestamptz, b timestamptz) RETURNS boolean
LANGUAGE sql AS $$ SELECT sp_evil.cmp('<=', a, b) $$;
CREATE FUNCTION sp_evil.lt(a timestamptz, b timestamptz) RETURNS boolean
LANGUAGE sql AS $$ SELECT sp_evil.cmp('<', a, b) $$;
CREATE OPERATOR sp_evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                            FUNCTION = sp_evil.ge);
CREATE OPERATOR sp_evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                            FUNCTION = sp_evil.le);
CREATE OPERATOR sp_evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                           FUNCTION = sp_evil.lt);
CREATE COLLATION sp_evil."C" (provider = libc, locale = 'POSIX');
CREATE TABLE sp_evil.own (t timestamptz);
INSERT INTO sp_evil.own VALUES (now());
SET search_path = sp_evil, pg_catalog, public;

-- the planted operator does win where a query is not pinned
SELECT count(*) AS own_rows FROM sp_evil.own WHERE t >= now() - interval '1 day';
SELECT count(*) > 0 AS planted_operator_works FROM sp_evil.planted_calls;
TRUNCATE sp_evil.planted_calls;

SELECT count(*) > 0 AS range_rows FROM public.pp_range_stats(
  tstzrange(date_trunc('minute', now()) - interval '59 minutes 30 seconds', now()));
SELECT count(*) > 0 AS window_rows FROM public.pp_operation_stats('59 minutes 30 seconds');
SELECT count(*) > 0 AS compare_rows FROM public.pp_compare(
  tstzrange(now() - interval '61 minutes 13 seconds', now() - interval '30 minutes 7 seconds'),
  tstzrange(now() - interval '30 minutes 7 seconds', now()));
SELECT count(*) > 0 AS trend_rows FROM public.pp_trends('59 minutes 30 seconds', '10 minutes');
SELECT count(*) >= 0 AS summary_rows FROM public.pp_trend_summary('59 minutes 30 seconds');
SELECT public.pp_optimization_report('59 minutes 30 seconds') ? 'summary' AS report;
SELECT count(*) >= 0 AS bottleneck_rows FROM public.pp_bottlenecks('59 minutes 30 seconds');
SELECT public.pp_detect_bottlenecks('59 minutes 30 seconds') >= 0 AS detected;
RESET ROLE;

-- the owner's own calls (a pg_cron job with a writable schema first)
SET search_path = sp_evil, pg_catalog, public;
SELECT count(*) > 0 AS owner_window_rows FROM pp_operation_stats('59 minutes 30 seconds');
SELECT pp_rebuild() = 400 AS rebuilt;
RESET search_path;

SELECT op, who, count(*) FROM sp_evil.planted_calls GROUP BY 1, 2;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sp_reader';

DROP SCHEMA sp_evil CASCADE;
REVOKE ALL ON performance_bottlenecks FROM sp_reader;
DROP OWNED BY sp_reader;
DROP ROLE sp_reader;
DROP EXTENSION ppprof;
