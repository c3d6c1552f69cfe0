-- accuracy: percentiles from the live statistics against the exact
-- order statistics (recursive flattening + percentile_disc) over 10,000
-- generated profiles and several latency distributions, including zeros
-- and values from 0.001 ms to 1e6 ms; counts and averages must be exact
CREATE EXTENSION ppprof;
SELECT setseed(0.42);

-- one child per distribution under each root
CREATE TEMP TABLE draws AS
SELECT g,
       -- log-normal, median 120 ms
       120 * exp(0.6 * sqrt(-2 * ln(random())) * cos(2 * pi() * random())) AS lognormal,
       -- uniform 0 .. 1000 ms
       1000 * random() AS uniform,
       -- exponential, mean 50 ms
       -50 * ln(1 - random()) AS exponential,
       -- bimodal: cache hits around 2 ms, misses around 800 ms
       CASE WHEN random() < 0.7 THEN 2 + random() ELSE 800 + 200 * random() END AS bimodal,
       -- 30% exact zeros, the rest log-uniform
       CASE WHEN random() < 0.3 THEN 0 ELSE exp(ln(0.5) + random() * ln(400)) END AS zeros,
       -- log-uniform over 0.001 .. 1e6 ms
       exp(ln(0.001) + random() * ln(1e9)) AS wide
  FROM generate_series(1, 10000) g;

INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'acc-' || g,
       jsonb_build_object('operation_name', 'acc_root', 'duration_ms', 2e6,
         'children', jsonb_build_array(
           jsonb_build_object('operation_name', 'acc_lognormal', 'duration_ms', lognormal),
           jsonb_build_object('operation_name', 'acc_uniform', 'duration_ms', uniform),
           jsonb_build_object('operation_name', 'acc_exponential', 'duration_ms', exponential),
           jsonb_build_object('operation_name', 'acc_bimodal', 'duration_ms', bimodal),
           jsonb_build_object('operation_name', 'acc_zeros', 'duration_ms', zeros),
           jsonb_build_object('operation_name', 'acc_wide', 'duration_ms', wide,
                              'error', CASE WHEN g % 97 = 0 THEN 'boom' END))),
       now() - (g * interval '7 seconds')
  FROM draws;

CREATE VIEW exact_nodes AS
WITH RECURSIVE nodes AS (
  SELECT created_at, profile_data AS n FROM performance_profiles
  UNION ALL
  SELECT nodes.created_at, c FROM nodes, jsonb_array_elements(n->'children') c)
SELECT created_at, n->>'operation_name' AS operation, (n->>'duration_ms')::float8 AS d,
       jsonb_typeof(n->'error') = 'string' AS failed
  FROM nodes;

CREATE FUNCTION accuracy(w interval)
RETURNS TABLE (operation text, calls_exact boolean, errors_exact boolean, avg_exact boolean,
               p50_within_1pct boolean, p95_within_1pct boolean, p99_within_1pct boolean)
LANGUAGE sql AS $$
  WITH e AS (
    SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors, avg(d) AS avg_ms,
           percentile_disc(0.50) WITHIN GROUP (ORDER BY d) AS p50,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
      FROM exact_nodes WHERE created_at >= now() - w AND created_at <= now() GROUP BY 1)
  SELECT e.operation, s.calls = e.calls, s.errors = e.errors,
         abs(s.avg_ms - e.avg_ms) <= 1e-9 * e.avg_ms,
         abs(s.p50_ms - e.p50) <= 0.01 * e.p50,
         abs(s.p95_ms - e.p95) <= 0.01 * e.p95,
         abs(s.p99_ms - e.p99) <= 0.01 * e.p99
    FROM e LEFT JOIN pp_operation_stats(w) s USING (operation)
   ORDER BY 1
$$;

SELECT pp_info()->>'statistics' AS statistics;
-- the whole data set (about 19.4 hours), then windows whose old edge cuts a bucket
SELECT * FROM accuracy('24 hours');
SELECT * FROM accuracy('5 hours 17 minutes 3 seconds');
SELECT * FROM accuracy('11 minutes');
-- the same answers from the table alone
SELECT pp_reset();
SELECT * FROM accuracy('24 hours');
SELECT pp_rebuild();
SELECT * FROM accuracy('24 hours');

DROP VIEW exact_nodes;
DROP EXTENSION ppprof;
