#!/usr/bin/env bash
# bench/recovery.sh -- how long the shared statistics take to become valid
# again after a crash, at N profiles (issue 22 item 4; results in
# docs/benchmarks.md, "Recovery after a crash").
#
#   bash bench/recovery.sh                  N=1000000 over 24 hours
#   BENCH_PROFILES=500000 BENCH_CHUNK=10000 bash bench/recovery.sh
#   BENCH_SMOKE=1 bash bench/recovery.sh    N=2000: proves the script works
#
# A throwaway cluster (Unix socket only, shared_preload_libraries =
# 'ppprof', every ppprof.* setting at its default but the background rollup
# worker, off so that the rollups are written once, by the script) holds N
# profiles of ppgen.profile (test/gen/rag_profiles.sql, 10 nodes each) over
# the 24 hours before the load, as ppgen.load(N, '24 hours') spreads them
# but in transactions of BENCH_CHUNK (default 50000; one transaction of a
# million failed with "invalid memory alloc request size"); their loading
# is timed (informative).
# pp_rollup() writes their rollups, for a rebuild that would read them;
# VACUUM ANALYZE, and a CHECKPOINT so that the WAL replayed at the restart
# is short and the same whatever ppprof does.  The calls per operation of
# the loaded day (pp_range_stats over its fixed range: a '24 hours' window
# would lose its oldest rows as the clock moves on) are kept.  Then:
#
# twice: first with ppprof.rebuild_from_rollups on (the default: the
# rebuild loads the rollups and reads the rows they lack), then off (it
# reads every row inside the horizon), set with ALTER SYSTEM before the
# second crash:
#
#   crash         pg_ctl -m immediate stop: no statistics file is written,
#                 so the statistics are invalid at the next start
#   (a) restart   seconds from the pg_ctl start command to pg_ctl's return
#                 (WAL replay), to the end of a first, small statistics
#                 call (pp_operation_stats('1 minute'): a statistics call
#                 that finds the statistics invalid starts the background
#                 rebuild, src/rebuild.c) and to pp_info()->>'statistics'
#                 = 'valid', polled every 0.2 s
#   (b)           an explicit SELECT pp_rebuild(), timed inside the server
#   (c) check     the calls per operation of the loaded day after the
#                 recovery, and again after (b), equal those before the
#                 crash ("equal" or "DIFFERENT", with both lists; the script
#                 exits 1 at the end when any differed)
#
# No timing is asserted.  The load average is printed with the figures:
# on a shared machine another benchmark may be running.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	N=${BENCH_PROFILES:-2000}
else
	N=${BENCH_PROFILES:-1000000}
fi
CHUNK=${BENCH_CHUNK:-50000}
PORT=5491	# only names the socket file in our own directory; no TCP
POLL_LIMIT_S=3600	# give up waiting for 'valid' after this long

pp_install_deps
pp_build_install >/dev/null

. bench/lib.sh
posint BENCH_PROFILES "$N"
posint BENCH_CHUNK "$CHUNK"
bench_tmp ppprof-bench-recovery
bench_initdb bench/recovery.sh
cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
ppprof.rollup_worker = off
CONF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
psql_q <test/gen/rag_profiles.sql >/dev/null

now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN {printf "%.1f", b - a}'; }
state() { psql_q -At -c "SELECT pp_info()->>'statistics'"; }

# the loaded day: [T_END - 24 hours, T_END]
T_END=$(psql_q -At -c "SELECT now()")
load_avg=$(loadavg)
t=$(now_s)
for ((k = 1; k <= N; k += CHUNK)); do
	psql_q -c "INSERT INTO performance_profiles (query_id, profile_data, created_at)
	           SELECT 'q-' || g, ppgen.profile(g, t), t
	             FROM generate_series($k, $((k + CHUNK - 1 < N ? k + CHUNK - 1 : N))) AS g,
	                  LATERAL (SELECT timestamptz '$T_END' - interval '24 hours' * (($N - g + 1)::float8 / $N) AS t) AS x"
done
t_load=$(since "$t")
t_rollup=$(psql_q -At -c "SELECT extract(epoch FROM clock_timestamp() - now())::numeric(10,1) FROM (SELECT pp_rollup()) r")
psql_q -c "VACUUM ANALYZE performance_profiles" -c "VACUUM ANALYZE performance_rollups"
psql_q -c "CHECKPOINT"
RANGE="tstzrange(timestamptz '$T_END' - interval '24 hours', '$T_END', '[]')"
calls_sql="SELECT string_agg(coalesce(operation, '(profiles)') || ':' || calls, ' ' ORDER BY operation NULLS FIRST) FROM pp_range_stats($RANGE)"
state_before=$(state)
calls_before=$(psql_q -At -c "$calls_sql")

echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $N profiles over 24 hours, $(nproc) CPUs"
echo "load of $N profiles ($CHUNK a transaction): ${t_load} s, load average at its start $load_avg"
echo "pp_rollup() of all of it: ${t_rollup} s; rollups: $(psql_q -At -c "SELECT string_agg(width || ' ' || n, ', ' ORDER BY width) FROM (SELECT width, count(*) n FROM performance_rollups GROUP BY 1) s")"
echo "table: $(psql_q -At -c "SELECT pg_size_pretty(pg_total_relation_size('performance_profiles'))") with its indexes and TOAST; statistics before the crash: $state_before"

check() {
	local calls_after same
	calls_after=$(psql_q -At -c "$calls_sql")
	if [ "$calls_after" = "$calls_before" ]; then same=equal; else same=DIFFERENT; differed=1; fi
	echo "check: $same (calls per operation of the loaded day $1 and before the crash; statistics: $(state))"
	if [ "$same" != equal ]; then
		echo "before: $calls_before"
		echo "after:  $calls_after"
	fi
}

# crash, restart, wait for the background rebuild, check; then time an
# explicit pp_rebuild() and check again.  $1 says how the rebuild reads.
crash_and_recover() {
	local how=$1 crash_avg t t_started state_after_start t_requested s t_valid valid_avg rebuild_avg r
	pp_as_pg pg_ctl -D "$DATA" -m immediate -w stop >/dev/null
	crash_avg=$(loadavg)
	t=$(now_s)
	start_server
	t_started=$(since "$t")
	state_after_start=$(state)
	psql_q -At -c "SELECT count(*) FROM pp_operation_stats('1 minute')" >/dev/null
	t_requested=$(since "$t")
	while s=$(state) && [ "$s" != valid ]; do
		if awk -v a="$t" -v b="$(now_s)" -v l="$POLL_LIMIT_S" 'BEGIN {exit !(b - a > l)}'; then
			echo "bench: the statistics were not valid $POLL_LIMIT_S s after the restart: $s" >&2
			tail -n 20 "$TMP/server.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	t_valid=$(since "$t")
	valid_avg=$(loadavg)
	echo "-- $how (ppprof.rebuild_from_rollups = $(psql_q -At -c "SHOW ppprof.rebuild_from_rollups"))"
	echo "after the crash: statistics at the start: $state_after_start; server log: $(grep -o 'ppprof rebuilt the statistics.*' "$TMP/server.log" | tail -n 1)"
	echo "(a) restart to valid: ${t_valid} s (pg_ctl start returned at ${t_started} s, the first pp_operation_stats('1 minute') ended at ${t_requested} s); load average before $crash_avg, after $valid_avg"
	check "after the recovery"
	rebuild_avg=$(loadavg)
	r=$(psql_q -At -F ' ' -c "SELECT n, extract(epoch FROM clock_timestamp() - now())::numeric(10,1) FROM (SELECT pp_rebuild() n) r")
	echo "(b) SELECT pp_rebuild(): ${r#* } s, ${r%% *} profiles read from the table; load average before $rebuild_avg, after $(loadavg)"
	check "after pp_rebuild()"
}

differed=0
crash_and_recover "from the rollups and the rows they lack"
psql_q -c "ALTER SYSTEM SET ppprof.rebuild_from_rollups = off"
crash_and_recover "every row inside the horizon"
psql_q -c "ALTER SYSTEM RESET ppprof.rebuild_from_rollups"
exit $differed
