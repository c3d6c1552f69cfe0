-- operations: pp_snapshot / pp_snapshots, baselines (pp_capture_baseline,
-- pp_baseline_check), alerts (pp_check_alerts, NOTIFY ppprof_alerts),
-- pp_purge, and pp_schedule_jobs without pg_cron
CREATE EXTENSION ppprof;

CREATE FUNCTION opn(name text, ms float8, kids jsonb DEFAULT '[]', meta jsonb DEFAULT NULL,
                  err text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object('operation_name', name, 'duration_ms', ms,
           'children', kids, 'metadata', meta, 'error', err))
$$;

--
-- snapshots
--
SET ppprof.snapshot_window = '10min';
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 's' || g, opn('rag', 100 * g, jsonb_build_array(opn('vector_search', 10 * g))),
       now() - g * interval '1 minute'
  FROM generate_series(1, 20) g;
-- the mean root duration of the profiles of the last 10 minutes (g = 1..9)
SELECT active_operations >= 0 AS active, memory_usage_mb > 0 AS memory,
       cpu_percent IS NULL AS first_cpu_unknown, pending_tasks, cache_size,
       avg_response_time_ms
  FROM pp_snapshot();
SELECT avg(total_duration_ms) AS exact FROM performance_profiles
 WHERE created_at >= now() - interval '10 minutes';
-- a second snapshot has a CPU figure once a CPU-second has passed; here it
-- may not have, so only its range is checked
SELECT cpu_percent IS NULL OR cpu_percent BETWEEN 0 AND 100 AS cpu_in_range FROM pp_snapshot();
-- the seed's field name, timestamp, and taken_at, its alias
SELECT "timestamp" = taken_at AS same, "timestamp" > now() - interval '1 minute' AS recent
  FROM pp_snapshots('1 hour') ORDER BY 1, 2;
SELECT count(*) FROM pp_snapshots('1 hour');
-- retention: rows older than ppprof.snapshot_retention go at the next snapshot
INSERT INTO performance_snapshots (taken_at, active_operations, memory_usage_mb,
                                   pending_tasks, cache_size, window_profiles)
VALUES (now() - interval '30 days', 0, 1, 0, 0, 0), (now() - interval '2 days', 0, 1, 0, 0, 0);
SET ppprof.snapshot_retention = '7d';
SELECT count(*) FROM pp_snapshot();
SELECT count(*) AS kept, min(taken_at) > now() - interval '3 days' AS oldest_is_recent
  FROM performance_snapshots;
SELECT count(*) FROM pp_snapshots('1 day');
RESET ppprof.snapshot_retention;
RESET ppprof.snapshot_window;
SELECT * FROM pp_snapshots(NULL);
TRUNCATE performance_profiles;

--
-- baselines: 2 days of normal traffic (30 an hour), then the last half
-- hour where retrieve is three times slower, db_get fails one time in
-- four and the cache hit rate halves
--
-- a baseline of an empty table: zeros and NULLs, and still ranges
SELECT pp_capture_baseline('empty', '1 hour');
SELECT name, profiles, profiles_per_hour, avg_ms, p95_ms, error_rate, cache_hit_rate
  FROM performance_baselines;
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'b' || g,
       opn('rag', 1000, jsonb_build_array(
           opn('cache_get', 4, '[]', jsonb_build_object('cache_hit', g % 2 = 0)),
           opn('retrieve', 200 + g % 20),
           opn('db_get', 30 + g % 7))),
       now() - interval '49 hours' + g * interval '2 minutes'
  FROM generate_series(1, 1440) g;
SELECT pp_capture_baseline('normal', '3 days');
SELECT name, profiles, round(profiles_per_hour::numeric, 1) AS per_hour, avg_ms, error_rate,
       cache_hit_rate, tolerance_pct
  FROM performance_baselines;
SELECT operation, operation_type, calls, round(calls_per_hour::numeric, 1) AS per_hour,
       round(avg_ms::numeric, 2) AS avg_ms, error_rate, cache_hit_rate
  FROM performance_baseline_operations ORDER BY operation;
-- nothing changed: no deviation over the last 6 hours
SELECT * FROM pp_baseline_check('normal', '6 hours');

INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'd' || g,
       opn('rag', 1000, jsonb_build_array(
           opn('cache_get', 4, '[]', jsonb_build_object('cache_hit', g % 4 = 0)),
           opn('retrieve', 3 * (200 + g % 20)),
           opn('db_get', 30 + g % 7, '[]', NULL, CASE WHEN g % 4 = 0 THEN 'deadlock' END),
           opn('new_step', 1))),
       now() - interval '30 minutes' + g * interval '1 minute'
  FROM generate_series(1, 29) g;
SELECT operation, metric, round(baseline_value::numeric, 3) AS baseline,
       round(current_value::numeric, 3) AS current, round(change_pct::numeric) AS change_pct,
       severity, description
  FROM pp_baseline_check('normal', '30 minutes')
 WHERE metric NOT LIKE '%per_hour';
-- against the empty baseline: traffic appeared, nothing else compares
SELECT operation, metric, baseline_value, round(current_value::numeric, 3) AS current,
       acceptable_low, acceptable_high, severity
  FROM pp_baseline_check('empty', '30 minutes')
 WHERE metric <> 'new_operation';
DELETE FROM performance_baselines WHERE name = 'empty';
-- a capture replaces the baseline of that name
SELECT pp_capture_baseline('normal', '1 hour', 10);
SELECT name, profiles, tolerance_pct FROM performance_baselines;

-- a window that folds operations (beyond ppprof.max_window_operations):
-- the fold row is neither captured nor reported as a new operation
SET ppprof.max_window_operations = 2;
SELECT pp_capture_baseline('folded', '1 hour');
SELECT operation, operation_type FROM performance_baseline_operations
 WHERE baseline = 'folded' ORDER BY 1;
SELECT count(*) AS folded_reported FROM pp_baseline_check('folded', '1 hour')
 WHERE operation = '(other)';
RESET ppprof.max_window_operations;
DELETE FROM performance_baselines WHERE name = 'folded';

SELECT * FROM pp_baseline_check('missing');
SELECT pp_capture_baseline('', '1 day');
SELECT pp_capture_baseline('x', '-1 day');
SELECT pp_capture_baseline('x', '1 day', 0);
SELECT count(*) AS baselines_unchanged FROM performance_baselines;

--
-- alerts
--
SELECT pp_capture_baseline('normal', '3 days');
INSERT INTO performance_alert_rules (name, operation, metric, threshold, "window") VALUES
    ('retrieve slow', 'retrieve', 'p95', 400, '30 minutes');
INSERT INTO performance_alert_rules (name, operation_type, metric, baseline, deviation_pct, "window") VALUES
    ('db errors above normal', 'database_query', 'error_rate', 'normal', 50, '30 minutes');
INSERT INTO performance_alert_rules (name, metric, comparator, threshold, "window", min_calls) VALUES
    ('traffic too low', 'calls', '<', 10, '30 minutes', 1);
INSERT INTO performance_alert_rules (name, operation, metric, comparator, threshold, "window", enabled) VALUES
    ('disabled', 'rag', 'avg', '>', 1, '30 minutes', false);
-- the rules' checks (terse: the detail would show the row's created_at)
\set VERBOSITY terse
INSERT INTO performance_alert_rules (name, metric, threshold, baseline, deviation_pct)
VALUES ('both', 'p95', 1, 'normal', 10);
INSERT INTO performance_alert_rules (name, metric) VALUES ('neither', 'p95');
INSERT INTO performance_alert_rules (name, operation, operation_type, metric, threshold)
VALUES ('two targets', 'a', 'b', 'p95', 1);
INSERT INTO performance_alert_rules (name, metric, threshold) VALUES ('bad metric', 'p42', 1);
INSERT INTO performance_alert_rules (name, metric, baseline) VALUES ('no deviation', 'p95', 'normal');
\set VERBOSITY default
SELECT name FROM performance_alert_rules ORDER BY name;

-- (test/t/010_alerts_notify.pl receives the NOTIFY payloads)
SELECT rule, operation, metric, round(value::numeric, 3) AS value, threshold, status
  FROM pp_check_alerts() ORDER BY rule;
-- checking again fires nothing new and keeps one open alert per rule and operation
SELECT count(*) FROM pp_check_alerts();
SELECT rule, operation, status, resolved_at IS NULL AS open FROM performance_alerts ORDER BY rule;
-- the condition clears: resolved, with a notification
UPDATE performance_alert_rules SET threshold = 5000 WHERE name = 'retrieve slow';
SELECT rule, operation, status FROM pp_check_alerts() ORDER BY rule;
-- disabling a rule resolves its open alerts
UPDATE performance_alert_rules SET enabled = false WHERE name = 'db errors above normal';
SELECT rule, operation, status FROM pp_check_alerts() ORDER BY rule;
SELECT rule, operation, status, resolved_at IS NOT NULL AS closed FROM performance_alerts ORDER BY rule, fired_at;
-- an open alert cannot be duplicated, even by hand
UPDATE performance_alert_rules SET threshold = 400 WHERE name = 'retrieve slow';
SELECT count(*) FROM pp_check_alerts();
INSERT INTO performance_alerts (rule, operation, metric, value, threshold, status)
VALUES ('retrieve slow', 'retrieve', 'p95', 1, 1, 'firing');

--
-- retention: pp_purge deletes old rows of every table in batches and the
-- statistics stay equal to the table
--
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'old' || g, opn('rag', 50, jsonb_build_array(opn('retrieve', 20), opn('db_get', 5))),
       now() - interval '40 days' + g * interval '1 hour'
  FROM generate_series(1, 30) g;
INSERT INTO performance_bottlenecks (operation_type, avg_duration_ms, p95_duration_ms,
                                     p99_duration_ms, occurrence_count, impact_score, detected_at)
VALUES ('retrieval', 1, 1, 1, 1, 1, now() - interval '40 days'), ('retrieval', 1, 1, 1, 1, 1, now());
INSERT INTO performance_snapshots (taken_at, active_operations, memory_usage_mb,
                                   pending_tasks, cache_size, window_profiles)
VALUES (now() - interval '40 days', 0, 1, 0, 0, 0);
UPDATE performance_alerts SET fired_at = now() - interval '41 days', resolved_at = now() - interval '40 days'
 WHERE status = 'resolved';
SELECT count(*) FROM performance_profiles WHERE created_at < now() - interval '30 days';
SELECT * FROM pp_purge('30 days', 7);
SELECT count(*) FROM performance_profiles WHERE created_at < now() - interval '30 days';
SELECT count(*) AS open_alerts_kept FROM performance_alerts WHERE status = 'firing';
SELECT * FROM pp_purge('30 days');
-- statistics against SQL over the table after the purge
SELECT s.operation, s.calls = e.calls AND abs(s.total_ms - e.total) <= 1e-9 * e.total AS exact
  FROM pp_operation_stats('60 days') s
  FULL JOIN (SELECT n->>'operation_name' AS op, count(*) AS calls,
                    sum((n->>'duration_ms')::float8) AS total
               FROM performance_profiles p, jsonb_path_query(p.profile_data, 'strict $.**') n
              WHERE jsonb_typeof(n) = 'object' AND n ? 'operation_name' GROUP BY 1) e
    ON e.op = s.operation
 ORDER BY 1;
SELECT * FROM pp_purge('-1 day');
SELECT * FROM pp_purge('1 day', 0);
SELECT * FROM pp_purge(NULL);
SELECT (SELECT count(*) FROM performance_profiles) AS profiles_kept,
       (SELECT count(*) FROM performance_bottlenecks) AS bottlenecks_kept;

--
-- pg_cron is not installed here
--
SELECT * FROM pp_schedule_jobs();
SELECT pp_unschedule_jobs();

DROP FUNCTION opn;
DROP EXTENSION ppprof;
