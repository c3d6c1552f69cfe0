#!/usr/bin/env bash
# bench/purge.sh -- retention benchmark for docs/scaling.md: what deleting a
# day of profiles costs with pp_purge, against the same DELETE on a table
# without ppprof's triggers and against dropping a day's partition.  What
# "make bench-purge" runs (and "make bench" / "make bench-smoke").
#
#   bash bench/purge.sh                    default: a day of 100,000 profiles, 3 rounds
#   BENCH_DAY_PROFILES=300000 bash bench/purge.sh
#   BENCH_SMOKE=1 bash bench/purge.sh      2,000 profiles, 1 round: proves the script works
#
# Method.  A throwaway cluster (temp dir, Unix socket only), ppprof preloaded
# with every setting at its default (ppprof.horizon = 7 days).  Each round
# loads, with ppgen.load (test/gen/rag_profiles.sql), one day of N
# generated 10-node profiles into each of
#
#   recent  performance_profiles, the day [today - 3 days, today - 2 days):
#           inside the horizon, so every deleted row is subtracted from the
#           live statistics
#   old     performance_profiles, the day [today - 31 days, today - 30 days):
#           beyond the horizon (the default 30-day retention of
#           pp_schedule_jobs), where deleting changes no statistic
#   plain   plain_profiles: the same columns and indexes, no trigger
#   part    part_profiles: partitioned by day on created_at (primary key
#           (id, created_at)), the same rows in one daily partition
#
# and times, old day first (pp_purge('2 days') would take it too), in the
# server (clock_timestamp around one statement each, a
# CHECKPOINT before each so that every one starts from clean buffers):
# pp_purge('2 days') for recent, pp_purge('30 days') for old, the same
# batched DELETE as pp_purge's (10,000 rows a statement through the
# created_at index) on plain_profiles, and DROP TABLE of the day's partition.  After
# the recent purge the statistics must still equal the table (checked; the
# script fails otherwise).  Reported: milliseconds and microseconds per
# profile, median over rounds, and the ratios to the plain DELETE.  No
# timing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	N=${BENCH_DAY_PROFILES:-2000}
	ROUNDS=${BENCH_ROUNDS:-1}
else
	N=${BENCH_DAY_PROFILES:-100000}
	ROUNDS=${BENCH_ROUNDS:-3}
fi
PORT=5495
for v in N ROUNDS; do
	case ${!v} in
	'' | *[!0-9]* | 0) echo "bench: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;;
	esac
done

pp_install_deps
pp_build_install
. bench/lib.sh
bench_tmp ppprof-bench-purge

bench_initdb bench/purge.sh
cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
CONF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <<'SQL' >/dev/null
CREATE TABLE plain_profiles (LIKE performance_profiles INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TABLE part_profiles (LIKE performance_profiles INCLUDING DEFAULTS)
    PARTITION BY RANGE (created_at);
ALTER TABLE part_profiles ADD PRIMARY KEY (id, created_at);
CREATE INDEX ON part_profiles (created_at);
-- the reference: pp_purge's loop over the profiles, on the trigger-less copy
CREATE FUNCTION plain_purge(cutoff timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint; total bigint := 0;
BEGIN
    LOOP
        DELETE FROM plain_profiles p
         WHERE p.id IN (SELECT q.id FROM plain_profiles q WHERE q.created_at < cutoff
                         ORDER BY q.created_at LIMIT 10000);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
        EXIT WHEN n < 10000;
    END LOOP;
    RETURN total;
END $$;
-- one statement, timed in the server
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SQL

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "# bench/purge.sh: a day of $N profiles, $ROUNDS round(s), commit $COMMIT, $(nproc) vCPU, load $(loadavg)"
echo
echo "| round | pp_purge, inside the horizon (ms) | pp_purge, beyond the horizon (ms) | DELETE, no trigger (ms) | DROP partition (ms) |"
echo "|---:|---:|---:|---:|---:|"
R=() O=() P=() D=()
for round in $(seq 1 "$ROUNDS"); do
	psql_q -At <<SQL >/dev/null
SET client_min_messages = warning;
TRUNCATE performance_profiles, plain_profiles;
SELECT ppgen.load($N, '1 day', date_trunc('day', now()) - interval '2 days');
SELECT ppgen.load($N, '1 day', date_trunc('day', now()) - interval '30 days');
INSERT INTO plain_profiles SELECT * FROM performance_profiles WHERE created_at < now() - interval '29 days';
DROP TABLE IF EXISTS part_day;
CREATE TABLE part_day PARTITION OF part_profiles
    FOR VALUES FROM (date_trunc('day', now()) - interval '31 days')
                 TO (date_trunc('day', now()) - interval '30 days');
INSERT INTO part_profiles SELECT * FROM plain_profiles;
VACUUM ANALYZE performance_profiles, plain_profiles, part_profiles;
SQL
	o=$(psql_q -At -c "CHECKPOINT" -c "SELECT bench_ms('SELECT * FROM pp_purge(''30 days'')')")
	left=$(psql_q -At -c "SELECT count(*) FROM performance_profiles")
	if [ "$left" != "$N" ]; then echo "bench: $left profiles left after the old day's purge, not $N" >&2; exit 1; fi
	r=$(psql_q -At -c "CHECKPOINT" -c "SELECT bench_ms('SELECT * FROM pp_purge(''2 days'')')")
	bad=$(psql_q -At <<'SQL'
SELECT count(*) FROM pp_operation_stats('6 days') s
  FULL JOIN (SELECT n->>'operation_name' AS op, count(*) AS calls
               FROM performance_profiles p, jsonb_path_query(p.profile_data, 'strict $.**') n
              WHERE p.created_at >= now() - interval '6 days'
                AND jsonb_typeof(n) = 'object' AND n ? 'operation_name' GROUP BY 1) e
    ON e.op = s.operation
 WHERE s.calls IS DISTINCT FROM e.calls;
SQL
)
	if [ "$bad" != 0 ]; then echo "bench: statistics differ from the table after pp_purge" >&2; exit 1; fi
	p=$(psql_q -At -c "CHECKPOINT" -c "SELECT bench_ms('SELECT plain_purge(now() - interval ''30 days'')')")
	d=$(psql_q -At -c "CHECKPOINT" -c "SELECT bench_ms('DROP TABLE part_day')")
	left=$(psql_q -At -c "SELECT count(*) FROM performance_profiles")
	if [ "$left" != 0 ]; then echo "bench: $left profiles left after the purges" >&2; exit 1; fi
	R+=("$r") O+=("$o") P+=("$p") D+=("$d")
	printf '| %d | %.0f | %.0f | %.0f | %.1f |\n' "$round" "$r" "$o" "$p" "$d"
done
mr=$(median "${R[@]}") mo=$(median "${O[@]}") mp=$(median "${P[@]}") md=$(median "${D[@]}")
echo
echo "Medians for a day of $N profiles:"
echo
echo "| | ms | µs per profile | / DELETE without trigger |"
echo "|---|---:|---:|---:|"
awk -v n="$N" -v r="$mr" -v o="$mo" -v p="$mp" -v d="$md" 'BEGIN {
	printf "| pp_purge, inside the horizon | %.0f | %.1f | %.2f |\n", r, 1000 * r / n, r / p
	printf "| pp_purge, beyond the horizon | %.0f | %.1f | %.2f |\n", o, 1000 * o / n, o / p
	printf "| DELETE, no trigger | %.0f | %.1f | 1.00 |\n", p, 1000 * p / n
	printf "| DROP TABLE of the partition | %.1f | %.3f | %.4f |\n", d, 1000 * d / n, d / p
}'
