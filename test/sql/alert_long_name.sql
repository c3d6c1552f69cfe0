-- alert_long_name: an alert rule named with 8,000 characters made pg_notify
-- refuse the payload, which aborted the whole pp_check_alerts() run (no
-- alert recorded, the other rules' neither).  Names are now at most 200
-- characters, a payload that would not fit is sent cut, and a rule whose
-- evaluation fails is skipped with a warning while the others are checked.
CREATE EXTENSION ppprof;
INSERT INTO performance_profiles (query_id, profile_data)
SELECT 'q' || g, jsonb_build_object('operation_name', 'rag', 'duration_ms', 900,
         'children', jsonb_build_array(jsonb_build_object('operation_name', 'retrieve',
                                                          'duration_ms', 600 + g)))
  FROM generate_series(1, 10) g;
INSERT INTO performance_alert_rules (name, operation, metric, threshold, "window")
VALUES ('retrieve slow', 'retrieve', 'p95', 500, '10 minutes');

-- what a long name ran into: pg_notify's limit
SELECT pg_notify('ppprof_alerts', repeat('x', 8000));

-- 8,000 characters are refused, on insert and on rename, and nothing is stored
\set VERBOSITY terse
INSERT INTO performance_alert_rules (name, metric, threshold)
VALUES (repeat('r', 8000), 'p95', 1);
INSERT INTO performance_alert_rules (name, metric, threshold)
VALUES (repeat('r', 201), 'p95', 1);
UPDATE performance_alert_rules SET name = repeat('r', 8000) WHERE name = 'retrieve slow';
\set VERBOSITY default
SELECT name FROM performance_alert_rules ORDER BY 1;
-- 200 are accepted (here 600 bytes: é has two, 😀 four)
INSERT INTO performance_alert_rules (name, operation, metric, threshold, "window")
VALUES (repeat('é', 100) || repeat('😀', 100), 'retrieve', 'avg', 500, '10 minutes');
SELECT char_length(name), octet_length(name) FROM performance_alert_rules ORDER BY 1;

-- an operation name of 8,000 control characters (more than 40,000 bytes in
-- JSON): the rule fires (no calls, fewer than 1) and its notification is
-- sent cut to fit
INSERT INTO performance_alert_rules (name, operation, metric, comparator, threshold, "window")
VALUES ('gone', repeat(chr(1), 8000), 'calls', '<', 1, '10 minutes');
-- a rule whose window reaches before 4713 BC fails to evaluate
INSERT INTO performance_alert_rules (name, metric, comparator, threshold, "window")
VALUES ('ancient', 'calls', '>', 0, '300000 years');

-- one warning for that rule; the three others are checked and fire
SELECT left(rule, 12) AS rule, octet_length(operation) AS operation_bytes, metric, status
  FROM pp_check_alerts() ORDER BY 1, 2;
SELECT left(rule, 12) AS rule, octet_length(operation) AS operation_bytes, status
  FROM performance_alerts ORDER BY 1, 2;
-- checking again changes nothing, and the failing rule fails alone again
SELECT count(*) FROM pp_check_alerts();
-- once corrected, it is checked
UPDATE performance_alert_rules SET "window" = '1 hour' WHERE name = 'ancient';
SELECT rule, operation, metric, value, status FROM pp_check_alerts();

DROP EXTENSION ppprof;
