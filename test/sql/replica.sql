-- replica: ppprof's triggers under session_replication_role = replica (they
-- fire always), and the rows marked rejected (ppprof_rejected) as a local
-- session sees them.  What a logical replication worker does with a
-- malformed profile (store it, mark it, count it) is TAP test 020.
CREATE EXTENSION ppprof;

-- the statistics of the root operations against the table's counted rows
CREATE FUNCTION counted() RETURNS TABLE (statistics text, live text, table_rows text)
LANGUAGE sql AS $$
  SELECT pp_info()->>'statistics',
         (SELECT coalesce(string_agg(operation || '=' || calls, ',' ORDER BY operation), '')
            FROM pp_operation_stats('1 day')),
         (SELECT coalesce(string_agg(op || '=' || n, ',' ORDER BY op), '')
            FROM (SELECT profile_data->>'operation_name' AS op, count(*) AS n
                    FROM performance_profiles WHERE ppprof_rejected IS NULL GROUP BY 1) t)
$$;

-- 1. a replica-mode session: rows are validated, analysed and counted
SELECT pp_info()->'replicated_rows_counted' AS replicated_rows_counted;
SET session_replication_role = replica;
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('r1', '{"operation_name": "llm_generation", "duration_ms": 3000}');
SELECT query_id, total_duration_ms, ppprof_analyzed, ppprof_rejected,
       jsonb_array_length(bottleneck_operations) AS bottlenecks
  FROM performance_profiles;
SELECT * FROM counted();
-- a bad profile is refused as in any local session (only a logical
-- replication worker stores it as rejected), and nothing is stored
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('r-bad', '{"operation_name": "llm_generation", "duration_ms": -1}');
SELECT count(*) AS stored FROM performance_profiles WHERE query_id = 'r-bad';
RESET session_replication_role;

-- 2. a row inserted already rejected (as a restore inserts it) is kept as it
-- is, not validated, not analysed, counted nowhere
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, ppprof_rejected)
VALUES ('restored-bad', '{"operation_name": "restored", "children": "none"}', 4,
        'invalid profile at $.children: expected an array or null, got string');
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, ppprof_rejected)
VALUES ('restored-valid', '{"operation_name": "restored", "duration_ms": 7}', -1,
        'total_duration_ms must be between 0 and 1e9, got -1');
SELECT query_id, total_duration_ms, ppprof_analyzed, ppprof_rejected
  FROM performance_profiles WHERE ppprof_rejected IS NOT NULL ORDER BY 1;
SELECT * FROM counted();
-- only a replication worker's rejections count in pp_info()
SELECT pp_info()->'replicated_rejected' AS replicated_rejected,
       pp_info()->'replicated_rejected_last' AS last,
       pp_info()->'replicated_rejected_last_at' AS last_at;

-- 3. an UPDATE that changes nothing that was checked leaves a row rejected
UPDATE performance_profiles SET query_id = 'restored-bad-2' WHERE query_id = 'restored-bad';
SELECT query_id, ppprof_rejected IS NOT NULL AS rejected FROM performance_profiles
 WHERE query_id LIKE 'restored-bad%';
-- clearing the mark checks the row as an INSERT would: refused, unchanged
UPDATE performance_profiles SET ppprof_rejected = NULL WHERE query_id = 'restored-bad-2';
UPDATE performance_profiles SET ppprof_rejected = NULL WHERE query_id = 'restored-valid';
SELECT query_id, ppprof_rejected FROM performance_profiles
 WHERE ppprof_rejected IS NOT NULL ORDER BY 1;
-- a valid profile (or total) accepts it: analysed and counted
UPDATE performance_profiles SET profile_data = '{"operation_name": "restored", "duration_ms": 4}'
 WHERE query_id = 'restored-bad-2';
UPDATE performance_profiles SET total_duration_ms = 7 WHERE query_id = 'restored-valid';
SELECT query_id, total_duration_ms, ppprof_analyzed, ppprof_rejected
  FROM performance_profiles WHERE query_id LIKE 'restored%' ORDER BY 1;
SELECT * FROM counted();

-- 4. the mark is ppprof's: an UPDATE setting it on a counted row is undone
UPDATE performance_profiles SET ppprof_rejected = 'mine' WHERE query_id = 'r1';
SELECT query_id, ppprof_rejected FROM performance_profiles WHERE query_id = 'r1';
SELECT * FROM counted();

-- 5. deleting a rejected row changes no statistic; a rebuild reads only
-- the counted rows
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, ppprof_rejected)
VALUES ('restored-bad-3', '{"operation_name": "restored"}', 1, 'invalid profile');
SELECT * FROM counted();
SELECT pp_rebuild() AS rebuilt_from;
SELECT * FROM counted();
DELETE FROM performance_profiles WHERE query_id = 'restored-bad-3';
SELECT * FROM counted();

-- the dimension statistics, read from the table, leave rejected rows out
-- too (this one has a valid tree: only its total is refused)
INSERT INTO performance_profiles (query_id, profile_data)
VALUES ('dim-counted', '{"operation_name": "dim_op", "duration_ms": 5, "metadata": {"model": "m-counted"}}');
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms, ppprof_rejected)
VALUES ('dim-rejected', '{"operation_name": "dim_op", "duration_ms": 6, "metadata": {"model": "m-rejected"}}', -1,
        'total_duration_ms must be between 0 and 1e9, got -1');
SELECT operation, dimension_value, calls FROM pp_dimension_stats('1 day', 'model')
 WHERE operation = 'dim_op';
SELECT * FROM counted();

-- 6. a TRUNCATE in a replica-mode session clears the statistics too
SET session_replication_role = replica;
TRUNCATE performance_profiles;
RESET session_replication_role;
SELECT * FROM counted();

-- 7. pp_info() says when a trigger no longer fires always (ENABLE TRIGGER,
-- as a data-only restore with --disable-triggers runs, makes it fire on
-- origin only), and the fix
ALTER TABLE performance_profiles ENABLE TRIGGER ppprof_observe;
SELECT pp_info()->'replicated_rows_counted' AS replicated_rows_counted;
ALTER TABLE performance_profiles ENABLE ALWAYS TRIGGER ppprof_observe;
SELECT pp_info()->'replicated_rows_counted' AS replicated_rows_counted;

DROP FUNCTION counted();
DROP EXTENSION ppprof;
