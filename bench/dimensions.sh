#!/usr/bin/env bash
# bench/dimensions.sh -- what pp_dimension_stats('24 hours', 'model') costs
# at N profiles over the last 24 hours, answered from shared memory (its
# edge from the table) and, after pp_reset(), from the table alone, next to
# pp_operation_stats for the same window (results in docs/benchmarks.md).
#
#   bash bench/dimensions.sh                 N=100000, 5 calls each
#   BENCH_PROFILES=10000 BENCH_CALLS=3 bash bench/dimensions.sh
#   BENCH_SMOKE=1 bash bench/dimensions.sh   N=2000, 2 calls: proves the script works
#
# A throwaway cluster (temporary directory, Unix socket only) with
# shared_preload_libraries = 'ppprof' and every ppprof.* setting at its
# default.  N profiles of ppgen.profile (test/gen/rag_profiles.sql, 10 nodes
# each; the LLM and embedding nodes carry a model) spread over the 24 hours
# before the load (ppgen.load), then VACUUM ANALYZE.  Each query is timed
# inside the server by bench_time (bench/bench_time.sql: every row fetched,
# clock_timestamp() around each call); the median and the range of the calls
# are printed; the range that starts on an hour has no edge to read from
# the table.  Then pp_reset() (the statistics answer from the table until
# pp_rebuild(), which the script does not run) and pp_dimension_stats again.
# The checks printed with them: the rows of pp_dimension_stats add up to the
# window's nodes, and the table gives the same calls per row.  No timing is
# asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	N=${BENCH_PROFILES:-2000}
	CALLS=${BENCH_CALLS:-2}
else
	N=${BENCH_PROFILES:-100000}
	CALLS=${BENCH_CALLS:-5}
fi
PORT=5498	# only names the socket file in our own directory; no TCP

pp_install_deps
pp_build_install >/dev/null

. bench/lib.sh
posint BENCH_PROFILES "$N"
posint BENCH_CALLS "$CALLS"
bench_tmp ppprof-bench-dimensions
bench_initdb bench/dimensions.sh
echo "shared_preload_libraries = 'ppprof'" >>"$DATA/postgresql.conf"
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <bench/bench_time.sql >/dev/null
psql_q -At -c "SELECT ppgen.load($N, '24 hours')" >/dev/null
psql_q -c "VACUUM ANALYZE performance_profiles"

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $N profiles over 24 hours, $(nproc) CPUs, load $(loadavg)"
echo "check: $(psql_q -At -c "SELECT (SELECT sum(calls) FROM pp_dimension_stats('24 hours', 'model')) =
                                      (SELECT sum(calls) FROM pp_operation_stats('24 hours'))")" \
	"(rows of pp_dimension_stats add up to the window's nodes)"
psql_q -c "CREATE TABLE win AS SELECT tstzrange(now() - interval '24 hours', now(), '[]') AS r" \
	-c "CREATE TABLE live AS SELECT s.* FROM win, pp_range_dimension_stats(win.r, 'model') s"
echo "| query | answered from | calls | median ms | range ms |"
echo "|---|---|---:|---:|---:|"
timed() {
	local times
	times=$(psql_q -At -c "SELECT array_to_string(bench_time(\$q\$$2\$q\$, $CALLS, 1e9), ' ')")
	# shellcheck disable=SC2086
	printf '| `%s` | %s | %d | %.1f | %s |\n' "$2" "$1" "$CALLS" "$(median $times)" "$(range $times)"
}
timed "shared memory" "SELECT * FROM pp_dimension_stats('24 hours', 'model')"
timed "shared memory, no edge" "SELECT * FROM pp_range_dimension_stats(tstzrange(date_trunc('hour', now()) - interval '23 hours', now(), '[]'), 'model')"
timed "shared memory" "SELECT * FROM pp_operation_stats('24 hours')"
psql_q -At -c "SELECT pp_reset()" >/dev/null
timed "the table" "SELECT * FROM pp_dimension_stats('24 hours', 'model')"
echo "check: $(psql_q -At -c "SELECT count(*) FROM live l FULL JOIN
                                   (SELECT s.* FROM win, pp_range_dimension_stats(win.r, 'model') s) t
                                 ON l.operation = t.operation AND l.dimension_value IS NOT DISTINCT FROM t.dimension_value
                                WHERE l.calls IS DISTINCT FROM t.calls OR l.errors IS DISTINCT FROM t.errors
                                   OR l.input_tokens IS DISTINCT FROM t.input_tokens") rows of one fixed 24-hour range" \
	"differ in calls, errors or tokens between shared memory and the table"
