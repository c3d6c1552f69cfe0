--
-- sql/src/ingest.sql -- validated ingest: the trigger that checks and
-- analyses each profile, the functions that store profiles one, a JSON array
-- or a JSON Lines text at a time, the analysis of a profile without storing
-- it, and the triggers that queue the statistics of every change
--

CREATE FUNCTION @extschema@.pp_profiles_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_profiles_trigger'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_trigger() IS
    'Validates profile_data and fills total_duration_ms, bottleneck_operations and optimization_suggestions';

CREATE FUNCTION @extschema@.pp_ingest(profile jsonb, query_id text DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'pp_ingest'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_ingest(jsonb, text) IS
    'Stores one profile; query_id defaults to metadata.query_id of the root, else a new uuid';

CREATE FUNCTION @extschema@.pp_ingest_batch(profiles jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_ingest_batch'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_ingest_batch(jsonb) IS
    'Stores every profile of a JSON array, all or nothing; returns how many';

--
-- A batch as JSON Lines, one profile per line: each line is parsed on its
-- own, so a large batch costs what its profiles cost one by one, where one
-- large jsonb array (pp_ingest_batch) costs several times more to parse.
--
CREATE FUNCTION @extschema@.pp_ingest_jsonl(profiles text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pp_ingest_jsonl'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.pp_ingest_jsonl(text) IS
    'Stores one profile per line (JSON Lines; blank lines skipped), all or nothing; returns how many';

CREATE FUNCTION @extschema@.pp_analyze_profile(profile jsonb)
RETURNS TABLE (node integer, path text, parent integer, depth integer,
               operation text, operation_type text, duration_ms float,
               self_ms float, threshold_ms float, is_bottleneck boolean,
               failed boolean)
AS 'MODULE_PATHNAME', 'pp_analyze_profile'
LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_analyze_profile(jsonb) IS
    'Validates a profile without storing it and returns one row per node, in document order';

CREATE FUNCTION @extschema@.pp_profiles_observe()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_profiles_observe'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_observe() IS
    'Queues the statistics of a written or deleted profile, applied when the transaction commits';

CREATE FUNCTION @extschema@.pp_profiles_truncated()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pp_profiles_truncated'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_truncated() IS
    'Clears the statistics of this database when performance_profiles is truncated';

--
-- Triggers
--

CREATE TRIGGER ppprof_ingest
    BEFORE INSERT OR UPDATE ON @extschema@.performance_profiles
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_profiles_trigger();
CREATE TRIGGER ppprof_observe
    AFTER INSERT OR UPDATE OR DELETE ON @extschema@.performance_profiles
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_profiles_observe();
CREATE TRIGGER ppprof_truncated
    AFTER TRUNCATE ON @extschema@.performance_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pp_profiles_truncated();

--
-- The triggers fire under session_replication_role = replica too: rows that
-- logical replication writes (a subscription's initial copy and its apply
-- worker run as replica) are validated, analysed and counted like any
-- other, and a replica-mode load cannot leave rows the statistics do not
-- count (docs/scaling.md).  ALTER TABLE ... DISABLE TRIGGER still disables
-- them.
--
ALTER TABLE @extschema@.performance_profiles ENABLE ALWAYS TRIGGER ppprof_ingest;
ALTER TABLE @extschema@.performance_profiles ENABLE ALWAYS TRIGGER ppprof_observe;
ALTER TABLE @extschema@.performance_profiles ENABLE ALWAYS TRIGGER ppprof_truncated;
