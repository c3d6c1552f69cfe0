#!/usr/bin/env bash
# bench/stats.sh -- statistics benchmark: pp_operation_stats(window), answered
# from ppprof's shared memory, versus the exact SQL a user would write over
# performance_profiles (recursive flattening of profile_data, then count /
# avg / percentile_cont per operation).  What "make bench-stats" and
# "make bench-stats-smoke" run (and "make bench" / "make bench-smoke" too).
#
#   bash bench/stats.sh                    default: 100,000 + 50,000 profiles, 5 rounds
#   BENCH_PROFILES=200000 BENCH_ROUNDS=7 bash bench/stats.sh
#   BENCH_SMOKE=1 bash bench/stats.sh      2,000 + 1,000 profiles, 1 round: proves the script works
#
# Environment:
#   BENCH_PROFILES      profiles spread over the last 24 hours (default 100000; smoke 2000)
#                       (bench/ingest.sh uses the same name for its number of
#                       distinct generated profiles: set it per script)
#   BENCH_OLD_PROFILES  profiles spread over the 6 days before that, so that the
#                       7-day window uses hour buckets (default BENCH_PROFILES / 2)
#   BENCH_ROUNDS        rounds (default 5; smoke 1)
#   BENCH_CALLS         at most this many calls of a query per round (default 20; smoke 3)
#   BENCH_BUDGET_MS     ... and no more calls once this much time went into it (default 1000)
#
# Method.  A throwaway cluster (temp dir, Unix socket only, no TCP), first
# started without ppprof to measure pg_shmem_allocations, then with
# shared_preload_libraries = 'ppprof' and every ppprof.* setting at its
# default.  CREATE EXTENSION ppprof; ppgen.load(N, '24 hours')
# (test/gen/rag_profiles.sql) inserts N realistic 10-node RAG profiles spread
# evenly over the last 24 hours, and an INSERT of ppgen.profile(N + i, t)
# adds BENCH_OLD_PROFILES more spread over [now - 7 days, now - 24 hours).
#
# Every query is timed inside the server, so that no client round trip or
# result transfer is measured: bench_time(query, k, budget) runs it with
# EXECUTE in a plpgsql loop, fetching every row, and returns the per-call
# times from clock_timestamp(); it stops after k calls or once the budget is
# spent (at least one call).  One round is, in this order:
#
#   live  : pp_operation_stats('24 hours')      exact SQL, 24 hours
#   live  : pp_operation_stats('1 hour')        exact SQL, 1 hour
#   live  : pp_operation_stats('7 days')        exact SQL, 7 days
#   SELECT pp_reset()   -- statistics invalid: the function answers from the table
#   table : pp_operation_stats('1 hour'), ('24 hours'), ('7 days')
#   SELECT pp_rebuild() -- timed: recomputes the statistics from the whole table
#
# so that machine noise hits every query of a round alike.  Reported per
# query: the median over rounds of each round's median per-call time.
#
# Before the rounds, for each window, one statement compares
# pp_operation_stats with the exact answer (same transaction, same now()):
# calls and errors per operation must be equal (otherwise the script prints
# the difference and exits 1 without reporting timings), and the relative
# error of p50/p95/p99 against percentile_disc (an actual observed value) is
# computed and printed; it is not asserted.  The same checks run once more
# with the statistics invalid (answers from the table).
#
# Memory: pp_info()->'shared_memory_bytes', the pg_shmem_allocations rows named
# 'ppprof%', the difference of pg_shmem_allocations between the same cluster
# with and without ppprof preloaded (dynahash entries come from the anonymous
# area, not from the named rows), and how much of the pools the load uses.
#
# Output: a markdown report on stdout, bench/out/stats-<timestamp>.csv (one
# row per round and query) and bench/out/stats-<timestamp>-check.csv (per
# operation and window: calls, errors and percentiles, live and exact).
# Nothing here asserts a timing; the script fails only when a step fails or
# the calls differ from the exact SQL.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	NPROFILES=${BENCH_PROFILES:-2000}
	ROUNDS=${BENCH_ROUNDS:-1}
	CALLS=${BENCH_CALLS:-3}
	MODE=smoke
else
	NPROFILES=${BENCH_PROFILES:-100000}
	ROUNDS=${BENCH_ROUNDS:-5}
	CALLS=${BENCH_CALLS:-20}
	MODE=full
fi
NOLD=${BENCH_OLD_PROFILES:-$((NPROFILES / 2))}
BUDGET_MS=${BENCH_BUDGET_MS:-1000}
PORT=5497	# only names the socket file in our own directory; no TCP

for v in NPROFILES ROUNDS CALLS BUDGET_MS; do
	case ${!v} in
	'' | *[!0-9]* | 0) echo "bench: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;;
	esac
done
case $NOLD in
'' | *[!0-9]*) echo "bench: BENCH_OLD_PROFILES must be a non-negative integer, got '$NOLD'" >&2; exit 2 ;;
esac

pp_install_deps
pp_build_install

. bench/lib.sh
bench_tmp ppprof-bench-stats

LOAD_START=$(loadavg)

# --- cluster, first without ppprof ----------------------------------------------
bench_initdb bench/stats.sh
# used = every allocation (named and anonymous); segment = used + free
SHMEM_SQL="SELECT sum(allocated_size) FILTER (WHERE name IS NOT NULL),
                  sum(allocated_size) FILTER (WHERE name = '<anonymous>'),
                  sum(allocated_size)
             FROM pg_shmem_allocations"
start_server
read -r SHM0_USED SHM0_ANON SHM0_SEG < <(pp_as_pg psql -X -At -F ' ' -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "$SHMEM_SQL")
stop_server
echo "shared_preload_libraries = 'ppprof'" >>"$DATA/postgresql.conf"
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
cmp -s ppprof.so "$PKGLIB/ppprof.so" ||
	{ echo "bench: $PKGLIB/ppprof.so was replaced during CREATE EXTENSION; run again" >&2; exit 1; }
read -r SHM1_USED SHM1_ANON SHM1_SEG < <(psql_q -At -F ' ' -c "$SHMEM_SQL")

# --- machine ----------------------------------------------------------------
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=unknown
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
PGVER=$(psql_q -At -c "SHOW server_version")
JIT=$(psql_q -At -c "SELECT current_setting('jit') || ' (available: ' || pg_jit_available() || ')'")
KERNEL=$(uname -sr)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT (modified)"; fi

# --- schema and data ------------------------------------------------------------
psql_q <test/gen/rag_profiles.sql >/dev/null
T_LOAD=$(date +%s.%N)
psql_q -At -c "SELECT ppgen.load($NPROFILES, '24 hours')" >/dev/null
psql_q -At <<EOF >/dev/null
INSERT INTO performance_profiles (query_id, profile_data, created_at)
SELECT 'old-' || g, ppgen.profile($NPROFILES + g, t), t
  FROM generate_series(1, $NOLD) AS g,
       LATERAL (SELECT now() - interval '24 hours' - interval '6 days' * (g::float8 / $NOLD) AS t) AS x;
EOF
T_LOAD=$(awk -v a="$T_LOAD" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
psql_q -c "VACUUM ANALYZE performance_profiles"

psql_q <bench/bench_time.sql >/dev/null
psql_q <<'EOF'
-- Every node of the profiles created in [now() - w, now()], flattened as in
-- test/sql/stats.sql's exact_nodes, but with the window applied to the profiles
-- before the recursion (as a user would write it for one window).
CREATE FUNCTION exact_nodes(w interval)
RETURNS TABLE (created_at timestamptz, operation text, d float8, failed boolean)
LANGUAGE sql STABLE AS $$
WITH RECURSIVE nodes AS (
  SELECT p.created_at, p.profile_data AS n FROM performance_profiles p
   WHERE p.created_at >= now() - w AND p.created_at <= now()
  UNION ALL
  SELECT nodes.created_at, c FROM nodes,
         jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT created_at, n->>'operation_name',
       coalesce((n->>'duration_ms')::float8, ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000),
       jsonb_typeof(n->'error') = 'string'
  FROM nodes
$$;

-- pp_operation_stats(w) against the exact answer, in one statement (one now())
CREATE FUNCTION bench_check(w interval)
RETURNS TABLE (operation text, calls_exact bigint, calls_pp bigint, errors_exact bigint, errors_pp bigint,
               p50_exact float8, p50_pp float8, p95_exact float8, p95_pp float8,
               p99_exact float8, p99_pp float8, p50_err float8, p95_err float8, p99_err float8,
               statistics text)
LANGUAGE sql AS $$
  WITH e AS (
    SELECT operation, count(*) AS calls, count(*) FILTER (WHERE failed) AS errors,
           percentile_disc(0.50) WITHIN GROUP (ORDER BY d) AS p50,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY d) AS p95,
           percentile_disc(0.99) WITHIN GROUP (ORDER BY d) AS p99
      FROM exact_nodes(w) GROUP BY 1),
  s AS (SELECT * FROM pp_operation_stats(w))
  SELECT coalesce(e.operation, s.operation), e.calls, s.calls, e.errors, s.errors,
         e.p50, s.p50_ms, e.p95, s.p95_ms, e.p99, s.p99_ms,
         abs(s.p50_ms - e.p50) / nullif(e.p50, 0), abs(s.p95_ms - e.p95) / nullif(e.p95, 0),
         abs(s.p99_ms - e.p99) / nullif(e.p99, 0), pp_info()->>'statistics'
    FROM e FULL JOIN s USING (operation)
   ORDER BY 1
$$;
EOF

NROWS=$(psql_q -At -c "SELECT count(*) FROM performance_profiles")
NNODES=$(psql_q -At -c "SELECT count(*) FROM exact_nodes('1000 years')")
TABLE_SIZE=$(psql_q -At -c "SELECT pg_size_pretty(pg_total_relation_size('performance_profiles'))")
read -r N1H N24H N7D < <(psql_q -At -F ' ' -c "SELECT count(*) FILTER (WHERE created_at >= now() - interval '1 hour'),
                                                     count(*) FILTER (WHERE created_at >= now() - interval '24 hours'),
                                                     count(*) FILTER (WHERE created_at >= now() - interval '7 days')
                                                FROM performance_profiles WHERE created_at <= now()")

# The exact SQL that is timed against pp_operation_stats: what a user would
# write, with the window applied before the flattening.
exact_sql() {
	cat <<EOF
WITH RECURSIVE nodes AS (
  SELECT profile_data AS n FROM performance_profiles
   WHERE created_at >= now() - interval '$1' AND created_at <= now()
  UNION ALL
  SELECT c FROM nodes, jsonb_array_elements(n->'children') c)
SELECT n->>'operation_name' AS operation, count(*) AS calls,
       count(*) FILTER (WHERE jsonb_typeof(n->'error') = 'string') AS errors,
       avg((n->>'duration_ms')::float8) AS avg_ms, stddev((n->>'duration_ms')::float8) AS stddev_ms,
       min((n->>'duration_ms')::float8) AS min_ms, max((n->>'duration_ms')::float8) AS max_ms,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY (n->>'duration_ms')::float8) AS p50_p95_p99,
       sum((n->>'duration_ms')::float8) AS total_ms
  FROM nodes GROUP BY 1 ORDER BY total_ms DESC
EOF
}
sqlq() { printf '%s' "$1" | sed "s/'/''/g"; }	# as a SQL string literal's contents

# --- correctness: calls equal, percentile error ------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out
if [ "$MODE" = smoke ]; then BASE=bench/out/stats-smoke-$STAMP; else BASE=bench/out/stats-$STAMP; fi
CSV=$BASE.csv
CHECK_CSV=$BASE-check.csv
echo "window,source,operation,calls_exact,calls_pp,errors_exact,errors_pp,p50_exact,p50_pp,p95_exact,p95_pp,p99_exact,p99_pp,p50_relerr,p95_relerr,p99_relerr,statistics" >"$CHECK_CSV"

MISMATCH=0
# check WINDOW SOURCE: appends to $CHECK_CSV, sets WORST (relative error) and WORST_AT
check() {
	local out
	out=$(psql_q -At -F ',' -c "SELECT '$1', '$2', * FROM bench_check('$1')")
	printf '%s\n' "$out" >>"$CHECK_CSV"
	local bad
	bad=$(printf '%s\n' "$out" | awk -F, '$4 != $5 || $6 != $7 || $17 != "'"$3"'"')
	if [ -n "$bad" ]; then
		echo "bench: pp_operation_stats('$1') ($2) differs from the exact SQL:" >&2
		echo "window,source,operation,calls_exact,calls_pp,errors_exact,errors_pp,...,statistics" >&2
		printf '%s\n' "$bad" >&2
		MISMATCH=1
	fi
	read -r WORST WORST_AT < <(printf '%s\n' "$out" | awk -F, '
		{ for (k = 0; k < 3; k++) { e = $(14 + k); if (e != "" && e + 0 >= w) { w = e + 0; at = $3 "/p" (k == 0 ? 50 : k == 1 ? 95 : 99) } } }
		END { printf "%.6f %s\n", w, at }')
}
declare -A WORST_ERR WORST_WHERE
for w in '1 hour' '24 hours' '7 days'; do
	check "$w" live valid
	WORST_ERR[live $w]=$WORST; WORST_WHERE[live $w]=$WORST_AT
done
psql_q -At -c "SELECT pp_reset()" >/dev/null
for w in '1 hour' '24 hours' '7 days'; do
	check "$w" table 'invalid: answers from the table until pp_rebuild()'
	WORST_ERR[table $w]=$WORST; WORST_WHERE[table $w]=$WORST_AT
done
psql_q -At -c "SELECT pp_rebuild()" >/dev/null
if [ "$MISMATCH" = 1 ]; then
	echo "bench: calls or errors differ from the exact SQL; no timings reported (see $CHECK_CSV)" >&2
	exit 1
fi

# --- memory ---------------------------------------------------------------------------
INFO=$(psql_q -At -c "SELECT pp_info()")
jget() { psql_q -At -c "SELECT '$(sqlq "$INFO")'::jsonb->>'$1'"; }
SHM_BYTES=$(jget shared_memory_bytes)
N_OPS=$(jget operations)
N_OPS_ALL=$(jget operations_all_databases)
N_MIN=$(jget minute_buckets)
N_MIN_MAX=$(jget minute_buckets_max)
N_HOUR=$(jget hour_buckets)
N_HOUR_MAX=$(jget hour_buckets_max)
N_OPS_MAX=$(jget operations_max)
SHMEM_ROWS=$(psql_q -At -F '|' -c "SELECT name, size, allocated_size FROM pg_shmem_allocations
                                     WHERE name LIKE 'ppprof%' ORDER BY allocated_size DESC, name")
SHMEM_NAMED=$(psql_q -At -c "SELECT sum(allocated_size) FROM pg_shmem_allocations WHERE name LIKE 'ppprof%'")

# --- rounds ------------------------------------------------------------------------------
echo "timestamp,mode,round,source,window,calls,median_ms,min_ms,max_ms,loadavg_1m" >"$CSV"
declare -A MED	# "source window" -> space-separated per-round medians (ms)
declare -A NCALLS
# timeq SOURCE WINDOW SQL
timeq() {
	local times
	times=$(psql_q -At -c "SELECT array_to_string(bench_time('$(sqlq "$3")', $CALLS, $BUDGET_MS), ' ')")
	# shellcheck disable=SC2086
	set -- "$1" "$2" $times
	local src=$1 win=$2
	shift 2
	local m lo hi
	m=$(median "$@")
	lo=$(printf '%s\n' "$@" | sort -g | head -1)
	hi=$(printf '%s\n' "$@" | sort -g | tail -1)
	MED[$src $win]="${MED[$src $win]:-} $m"
	NCALLS[$src $win]=$((${NCALLS[$src $win]:-0} + $#))
	echo "$STAMP,$MODE,$r,$src,$win,$#,$m,$lo,$hi,$(cut -d' ' -f1 /proc/loadavg)" >>"$CSV"
	printf 'round %d %-9s %-8s %4d call(s), median %.3f ms\n' "$r" "$src" "$win" "$#" "$m" >&2
}
declare -a LOAD_ROUND
for ((r = 1; r <= ROUNDS; r++)); do
	LOAD_ROUND[r]=$(loadavg)
	for w in '24 hours' '1 hour' '7 days'; do
		timeq live "$w" "SELECT * FROM pp_operation_stats('$w')"
		timeq exact_sql "$w" "$(exact_sql "$w")"
	done
	psql_q -At -c "SELECT pp_reset()" >/dev/null
	st=$(psql_q -At -c "SELECT pp_info()->>'statistics'")
	case $st in invalid*) ;; *) echo "bench: after pp_reset() the statistics are '$st'" >&2; exit 1 ;; esac
	for w in '1 hour' '24 hours' '7 days'; do
		timeq table "$w" "SELECT * FROM pp_operation_stats('$w')"
	done
	timeq rebuild - "SELECT pp_rebuild()"
	st=$(psql_q -At -c "SELECT pp_info()->>'statistics'")
	[ "$st" = valid ] || { echo "bench: after pp_rebuild() the statistics are '$st'" >&2; exit 1; }
done
LOAD_END=$(loadavg)
# the running server keeps the library it loaded at start; say if the file changed
if cmp -s ppprof.so "$PKGLIB/ppprof.so"; then SO_NOTE=; else
	SO_NOTE=" (note: $PKGLIB/ppprof.so was replaced by another build during the run; the server kept the one it started with)"
fi
REBUILT=$(psql_q -At -c "SELECT pp_rebuild()")

# --- report -------------------------------------------------------------------------------
med_of() { median ${MED[$1]}; }	# median over rounds of the round medians
range_of() {
	printf '%s\n' ${MED[$1]} | sort -g | awk 'function f(x) {return sprintf(x < 10 ? "%.2f" : x < 100 ? "%.1f" : "%.0f", x)}
		NR == 1 {lo = $1} {hi = $1} END {print f(lo) "–" f(hi)}'
}

cat <<EOF
## Statistics benchmark ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC')

- machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, $KERNEL
- load average (1, 5, 15 min): $LOAD_START at the start, $LOAD_END at the end;
  1-minute load average at the start of each round: $(for ((r = 1; r <= ROUNDS; r++)); do printf '%s ' "${LOAD_ROUND[r]%% *}"; done)
- PostgreSQL: $PGVER, jit = $JIT; ppprof commit $COMMIT, every ppprof.* setting at its default$SO_NOTE
- data: $NROWS profiles ($NNODES nodes, $TABLE_SIZE with indexes): $NPROFILES over the last
  24 hours (ppgen.load), $NOLD over the 6 days before; loaded in $T_LOAD s
- profiles per window at the check: 1 hour $N1H, 24 hours $N24H, 7 days $N7D
- timing: inside the server (plpgsql loop, clock_timestamp(), every row fetched), at most
  $CALLS calls per query and round or $BUDGET_MS ms; $ROUNDS round(s), queries alternating;
  figures are the median over rounds of each round's median per-call time (range of the rounds)

| window | pp_operation_stats, live (ms) | exact SQL (ms) | exact / live | pp_operation_stats, statistics invalid: from the table (ms) | table / live |
|---|---:|---:|---:|---:|---:|
EOF
for w in '1 hour' '24 hours' '7 days'; do
	awk -v w="$w" -v l="$(med_of "live $w")" -v e="$(med_of "exact_sql $w")" -v t="$(med_of "table $w")" \
		-v lr="$(range_of "live $w")" -v er="$(range_of "exact_sql $w")" -v tr="$(range_of "table $w")" \
		'function x(r) {return sprintf(r < 10 ? "%.1f×" : "%.0f×", r)}
		BEGIN {printf "| %s | **%.2f** (%s) | **%.1f** (%s) | **%s** | %.1f (%s) | %s |\n", w, l, lr, e, er, x(e / l), t, tr, x(t / l)}'
done
RB=$(med_of "rebuild -")
echo
awk -v rb="$RB" -v rr="$(range_of "rebuild -")" -v n="$REBUILT" \
	'BEGIN {printf "pp_rebuild(): **%.2f s** (rounds %s ms) for %d profiles, %.1f µs per profile (%.0f profiles/s)\n", rb / 1000, rr, n, rb * 1000 / n, n / (rb / 1000)}'
echo
echo "Correctness (calls and errors per operation equal to the exact SQL in every window checked;"
echo "percentiles against percentile_disc, the exact order statistic):"
echo
echo "| window | answered from | operations | worst relative error of p50/p95/p99 | where |"
echo "|---|---|---:|---:|---|"
for k in 'live 1 hour' 'live 24 hours' 'live 7 days' 'table 1 hour' 'table 24 hours' 'table 7 days'; do
	src=${k%% *}; win=${k#* }
	nops=$(awk -F, -v w="$win" -v s="$src" '$1 == w && $2 == s' "$CHECK_CSV" | wc -l)
	if [ "$src" = live ]; then from="shared memory"; else from="the table (after pp_reset())"; fi
	awk -v w="$win" -v f="$from" -v n="$nops" -v e="${WORST_ERR[$k]}" -v a="${WORST_WHERE[$k]}" \
		'BEGIN {printf "| %s | %s | %d | %.3f%% | %s |\n", w, f, n, 100 * e, a}'
done
echo
echo "Per operation, 24 hours, live: calls equal; percentiles exact (percentile_disc) vs pp_operation_stats"
echo
echo "| operation | calls | errors | p50 exact | p50 | p95 exact | p95 | p99 exact | p99 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -F, '$1 == "24 hours" && $2 == "live" {
	printf "| %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", $3, $5, $7, $8, $9, $10, $11, $12, $13 }' "$CHECK_CSV"
echo
echo "Memory, every ppprof.* setting at its default:"
echo
awk -v b="$SHM_BYTES" 'BEGIN {printf "- pp_info()->'"'"'shared_memory_bytes'"'"': %d bytes (%.1f MiB)\n", b, b / 1048576}'
awk -v u0="$SHM0_USED" -v u1="$SHM1_USED" -v a0="$SHM0_ANON" -v a1="$SHM1_ANON" -v s0="$SHM0_SEG" -v s1="$SHM1_SEG" -v n="$SHMEM_NAMED" 'BEGIN {
	printf "- pg_shmem_allocations, same cluster with and without ppprof preloaded: allocated %d → %d bytes (**+%d**, %.1f MiB),\n", u0, u1, u1 - u0, (u1 - u0) / 1048576
	printf "  of which %d in the rows named ppprof%% and +%d in <anonymous> (%d → %d: the dynahash entries);\n", n, a1 - a0, a0, a1
	printf "  whole segment (allocated + free) %d → %d bytes (+%d)\n", s0, s1, s1 - s0 }'
echo "- rows named ppprof% (name, size, allocated_size):"
printf '%s\n' "$SHMEM_ROWS" | awk -F'|' '{printf "  - %s: %d, %d\n", $1, $2, $3}'
awk -v o="$N_OPS" -v oa="$N_OPS_ALL" -v om="$N_OPS_MAX" -v m="$N_MIN" -v mm="$N_MIN_MAX" -v h="$N_HOUR" -v hm="$N_HOUR_MAX" 'BEGIN {
	op = 1048 + 16 + 40 * 1000; mb = 904; hb = 3208	# docs/statistics.md, default reservoir_size
	printf "- after the load: %d operations in this database (%d slots in use with the root entry, of %d),\n", o, oa, om
	printf "  %d of %d minute buckets (%.1f%%), %d of %d hour buckets (%.1f%%);\n", m, mm, 100 * m / mm, h, hm, 100 * h / hm
	printf "  in use: %d × %d + %d × %d + %d × %d bytes = %.1f MiB, %.2f MiB per slot\n", oa, op, m, mb, h, hb,
		(oa * op + m * mb + h * hb) / 1048576, (oa * op + m * mb + h * hb) / oa / 1048576
	printf "  (%.0f minute and %.0f hour buckets per slot)\n", m / oa, h / oa }'
echo
echo "CSV: $CSV, $CHECK_CSV"
