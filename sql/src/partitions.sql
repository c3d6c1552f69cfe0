--
-- sql/src/partitions.sql -- performance_profiles partitioned by created_at
-- (ppprof.partition_profiles, docs/scaling.md): the event trigger that
-- keeps the statistics when a partition is dropped, detached or attached,
-- and the daily partitions
--

CREATE FUNCTION @extschema@.pp_profiles_partition_ddl()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pp_profiles_partition_ddl'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.pp_profiles_partition_ddl() IS
    'Queues the statistics of the rows of a partition of performance_profiles about to be dropped, detached or attached';

-- Row triggers are cloned to every partition; DROP TABLE, DETACH and
-- ATTACH fire none, so the event trigger stands in for them.
DO $partitioned$
BEGIN
    IF pg_catalog.current_setting('ppprof.partition_profiles', true)::boolean THEN
        CREATE EVENT TRIGGER ppprof_partitions ON ddl_command_start
            WHEN TAG IN ('DROP TABLE', 'ALTER TABLE')
            EXECUTE FUNCTION @extschema@.pp_profiles_partition_ddl();
    END IF;
END;
$partitioned$;

--
-- One partition per UTC day, named performance_profiles_pYYYYMMDD, from
-- since (default today) to days_ahead days after today.  A day that a
-- partition already covers (this function's or another's, pg_partman's
-- say) is left as it is.
--

CREATE FUNCTION @extschema@.pp_create_partitions(days_ahead integer DEFAULT 7,
                                                 since date DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s name;
    today date := (now() AT TIME ZONE 'UTC')::date;
    d date;
    part text;
BEGIN
    IF days_ahead IS NULL OR days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 366'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    d := coalesce(since, today);
    IF d < today - 3660 OR d > today + days_ahead THEN
        RAISE EXCEPTION 'since must be at most 3660 days before today and not after today plus days_ahead'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Days are UTC days.';
    END IF;
    SELECT ns.nspname INTO s
      FROM pg_extension e JOIN pg_namespace ns ON ns.oid = e.extnamespace
     WHERE e.extname = 'ppprof';
    IF NOT EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.oid = pg_catalog.format('%I.performance_profiles', s)::regclass
                      AND c.relkind = 'p') THEN
        RAISE EXCEPTION 'performance_profiles is not partitioned'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'CREATE EXTENSION ppprof created it as a plain table, with ppprof.partition_profiles off.',
                  HINT = 'See "Partitioned by day" in docs/scaling.md.';
    END IF;
    WHILE d <= today + days_ahead LOOP
        part := 'performance_profiles_p' || pg_catalog.to_char(d, 'YYYYMMDD');
        BEGIN
            EXECUTE pg_catalog.format(
                'CREATE TABLE %1$I.%2$I PARTITION OF %1$I.performance_profiles'
                ' FOR VALUES FROM (%3$L) TO (%4$L)',
                s, part, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
            RETURN NEXT part;
        EXCEPTION
            -- the name is taken, or another partition covers (part of) the day
            WHEN duplicate_table OR invalid_object_definition THEN
                NULL;
        END;
        d := d + 1;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_create_partitions(integer, date) IS
    'Creates the daily partitions (UTC days) of a partitioned performance_profiles from since (default today) to days_ahead days after today that no partition covers; returns their names';
