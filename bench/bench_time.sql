-- bench/bench_time.sql -- bench_time(), loaded by bench/stats.sh and bench/report.sh.

-- Per-call times (ms) of q: at most k calls, no more once budget_ms is spent.
-- Every row is fetched, so no output column can be optimised away.
CREATE FUNCTION bench_time(q text, k int, budget_ms float8) RETURNS float8[]
LANGUAGE plpgsql AS $$
DECLARE
    t_all timestamptz := clock_timestamp();
    t0 timestamptz;
    r record;
    n bigint;
    times float8[] := '{}';
BEGIN
    FOR i IN 1..k LOOP
        t0 := clock_timestamp();
        n := 0;
        FOR r IN EXECUTE q LOOP
            n := n + 1;
        END LOOP;
        times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
        IF n = 0 THEN
            RAISE EXCEPTION 'bench: no rows from %', q;
        END IF;
        EXIT WHEN extract(epoch FROM clock_timestamp() - t_all) * 1000 >= budget_ms;
    END LOOP;
    RETURN times;
END;
$$;
