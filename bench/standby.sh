#!/usr/bin/env bash
# bench/standby.sh -- what reads cost on a streaming hot standby, which
# answers from the rollups and the table rows they lack, next to its
# primary, which answers from shared memory, and to the exact SQL over the
# table; and a year of daily trends from the rollups (results in
# docs/benchmarks.md, "Reads on a standby").
#
#   bash bench/standby.sh                  N=200000 over 24 hours, 5 calls each
#   BENCH_PROFILES=50000 bash bench/standby.sh
#   BENCH_SMOKE=1 bash bench/standby.sh    N=2000, 2 calls: proves the script works
#
# A throwaway primary (Unix socket only, shared_preload_libraries =
# 'ppprof', every ppprof.* setting at its default but the background rollup
# worker, off so that the rollups are written once, by the script) holds N
# profiles of ppgen.profile (test/gen/rag_profiles.sql, 10 nodes each) over
# the 24 hours before the load, and 20 an hour over the 364 days before
# those (N / 10 at most).  pp_rollup() writes their rollups; then 200 more
# profiles in the last two minutes are left for the table.  A standby made
# with pg_basebackup streams from it.  Each query is timed inside the server
# by bench_time (bench/bench_time.sql), median and range of the calls; the
# exact SQL (percentile_disc over the flattened nodes) runs once.  Printed
# checks: the standby's calls per operation equal the primary's, and the
# report's source on each.  No timing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	N=${BENCH_PROFILES:-2000}
	CALLS=${BENCH_CALLS:-2}
else
	N=${BENCH_PROFILES:-200000}
	CALLS=${BENCH_CALLS:-5}
fi
PORT=5499	# only names the socket files in our own directory; no TCP

pp_install_deps
pp_build_install >/dev/null

. bench/lib.sh
posint BENCH_PROFILES "$N"
posint BENCH_CALLS "$CALLS"
bench_tmp ppprof-bench-standby
bench_initdb bench/standby.sh
cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
ppprof.rollup_worker = off
CONF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <bench/bench_time.sql >/dev/null
OLD=$(( N / 10 < 364 * 24 * 20 ? N / 10 : 364 * 24 * 20 ))
psql_q -At -c "SELECT ppgen.load($OLD, '364 days', now() - interval '24 hours')" >/dev/null
psql_q -At -c "SELECT ppgen.load($N, '24 hours', now() - interval '2 minutes')" >/dev/null
t_rollup=$(psql_q -At -c "SELECT extract(epoch FROM clock_timestamp() - now())::numeric(10,1) FROM (SELECT pp_rollup()) r")
psql_q -At -c "SELECT ppgen.load(200, '2 minutes', now())" >/dev/null
psql_q -c "VACUUM ANALYZE performance_profiles" -c "VACUUM ANALYZE performance_rollups"

# the standby
STANDBY=$TMP/standby
pp_as_pg pg_basebackup -h "$SOCK" -p "$PORT" -U postgres -D "$STANDBY" -R -X stream -c fast >/dev/null
PORT2=$((PORT + 1))
cat >>"$STANDBY/postgresql.conf" <<CONF
port = $PORT2
CONF
pp_as_pg pg_ctl -D "$STANDBY" -l "$TMP/standby.log" -w start >/dev/null
trap 'rc=$?; pp_as_pg pg_ctl -D "$STANDBY" -m fast -w stop >/dev/null 2>&1 || true; (exit $rc); bench_cleanup' EXIT
on_standby() { PORT=$PORT2 psql_q "$@"; }
until [ "$(on_standby -At -c 'SELECT pg_is_in_recovery()')" = t ]; do sleep 0.2; done

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $N profiles over 24 hours + $OLD over the 364 days before, $(nproc) CPUs, load $(loadavg)"
echo "pp_rollup() of all of it: ${t_rollup} s; rollups: $(psql_q -At -c "SELECT string_agg(width || ' ' || n, ', ' ORDER BY width) FROM (SELECT width, count(*) n FROM performance_rollups GROUP BY 1) s")"
echo "check: source on the primary: $(psql_q -At -c "SELECT pp_optimization_report('24 hours')->'summary'->>'source'"), on the standby: $(on_standby -At -c "SELECT pp_optimization_report('24 hours')->'summary'->>'source'")"
cmp_sql="SELECT string_agg(operation || ':' || calls, ' ' ORDER BY operation) FROM pp_operation_stats('24 hours')"
if [ "$(psql_q -At -c "$cmp_sql")" = "$(on_standby -At -c "$cmp_sql")" ]; then same=equal; else same=DIFFERENT; fi
echo "check: calls per operation over 24 hours, standby and primary: $same"

timed() {
	local times
	times=$("${@:3}" -At -c "SELECT array_to_string(bench_time(\$q\$$2\$q\$, $CALLS, 1e9), ' ')")
	# shellcheck disable=SC2086
	printf '| `%s` | %s | %d | %.1f | %s |\n' "$2" "$1" "$CALLS" "$(median $times)" "$(range $times)"
}
echo "| query | node | calls | median ms | range ms |"
echo "|---|---|---:|---:|---:|"
for q in "SELECT * FROM pp_operation_stats('24 hours')" \
	"SELECT pp_optimization_report('24 hours')" \
	"SELECT * FROM pp_trends('24 hours', '1 hour')" \
	"SELECT * FROM pp_compare(tstzrange(now() - interval '24 hours', now() - interval '12 hours'), tstzrange(now() - interval '12 hours', now()))" \
	"SELECT * FROM pp_trends('365 days', '1 day')"; do
	timed primary "$q" psql_q
	timed standby "$q" on_standby
done
exact="WITH RECURSIVE nodes AS (
  SELECT created_at, profile_data AS n FROM performance_profiles WHERE created_at >= now() - interval '24 hours'
  UNION ALL
  SELECT nodes.created_at, c FROM nodes, jsonb_array_elements(n->'children') c)
SELECT n->>'operation_name', count(*), avg((n->>'duration_ms')::float8),
       percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY (n->>'duration_ms')::float8)
  FROM nodes GROUP BY 1"
CALLS=1 timed "standby, exact SQL" "$exact" on_standby
