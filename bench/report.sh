#!/usr/bin/env bash
# bench/report.sh -- report benchmark: pp_optimization_report('24 hours'),
# computed from ppprof's shared memory, versus the equivalent SQL over
# performance_profiles, as the number of profiles grows (10k, 100k, 1M over
# 24 hours) and as the number of distinct operations grows (10, 100, 1000).
# What "make bench-report" and "make bench-report-smoke" run (and "make bench"
# / "make bench-smoke" too).
#
#   bash bench/report.sh                   default, about 30 minutes on 2 vCPUs
#   BENCH_SIZES="10000 100000" BENCH_ROUNDS=3 bash bench/report.sh
#   BENCH_SMOKE=1 bash bench/report.sh     tiny sizes, 1 round: proves the script works
#
# Environment:
#   BENCH_SIZES         profiles over the last 24 hours, increasing; the table
#                       grows from one size to the next in the same cluster
#                       (default "10000 100000 1000000"; smoke "1000 3000")
#   BENCH_OPS           distinct operation names of the second part
#                       (default "10 100 1000"; smoke "10 100")
#   BENCH_OPS_PROFILES  profiles over the last 24 hours in the second part
#                       (default 100000; smoke 2000)
#   BENCH_ROUNDS        rounds per size and per number of operations (default 5; smoke 1)
#   BENCH_CALLS         at most this many calls of a report query per round (default 20; smoke 3)
#   BENCH_BUDGET_MS     ... and no more calls once this much time went into it (default 2000)
#   BENCH_SQL_BUDGET_S  the SQL runs in a round only while its calls at this size
#                       took less than this in total (default 240): at 1M profiles
#                       (70-100 s per call here) that is two or three calls
#   BENCH_CHUNK         profiles inserted per transaction while loading (default 50000)
#   BENCH_PLOT_DIR      where the PNG plots go (default docs/img; smoke bench/out)
#
# Method.  A throwaway cluster (temp dir, Unix socket only, no TCP) with
# shared_preload_libraries = 'ppprof'.
#
# Part 1, profiles: every ppprof.* setting at its default.  For each size S,
# S - (profiles so far) new profiles from ppgen.profile (test/gen/
# rag_profiles.sql, 10 nodes each) are spread evenly over the 24 hours before
# the start of that load (ppbench.load, bench/report_gen.sql), in
# transactions of BENCH_CHUNK profiles; then VACUUM ANALYZE.  So the window
# grows 10k -> 100k -> 1M without reloading.  Then a check and the rounds.
#
# Part 2, operations: the cluster restarts with ppprof.max_operations,
# max_minute_buckets and max_hour_buckets raised so that 1000 operations busy
# every minute fit (the defaults hold about 20); for each N a database is
# filled with BENCH_OPS_PROFILES profiles of ppbench.profile_ops(i, t, N):
# the same trees with their 10 names cycling over N distinct names.
#
# Timing, inside the server: bench_time(query, k, budget) runs the query with
# EXECUTE in a plpgsql loop, fetching every row, and returns the per-call
# times from clock_timestamp().  Everything in one call runs in one
# transaction, hence one now().  One round is, in this order:
#
#   report      pp_optimization_report('24 hours')
#   sql         the equivalent SQL (below), one call, while within BENCH_SQL_BUDGET_S
#               (part 2: in the first round only)
#   report_aligned   the same report for a window whose start is minute-aligned:
#               interval '24 hours' + (now() - date_trunc('minute', now())),
#               so no edge minute is read from the table
#   report_fulledge  the same minus 1 microsecond: the window's start is just
#               after a minute boundary, so a whole minute of rows is read
#               from the table
#   stats       pp_operation_stats('24 hours'): the window read alone, without
#               the analysis and the jsonb
#   stats_aligned    pp_operation_stats for the minute-aligned window
#
# The window's old edge: shared memory keeps minute buckets, so the minute
# that now() - 24 hours cuts is read from the table (rows of that minute from
# its start to the minute's end: between none and one minute of rows,
# depending on the second at which the round starts).  Each timed call
# records how many profiles that edge holds (same statement, same now()).
#
# Reported per query: the median over rounds of each round's median per-call
# time, and the range of the round medians.  The SQL (what a user would
# write; the report computes more: self times, shapes, scores, suggestions):
#
#   WITH RECURSIVE nodes AS (profiles of the window, then their children),
#   ops AS (per operation_name: count, errors, avg, percentile_cont(0.5, 0.95, 0.99)),
#   failed AS (profiles with a failed node),
#   summary AS (count, avg and percentile_cont of total_duration_ms, error rate)
#   SELECT summary UNION ALL ops
#
# Checks (no timing is asserted): at each size the report's
# summary.total_profiled_queries and avg_query_duration_ms must equal
# count(*) and avg(total_duration_ms) over the window (same statement), its
# summary.source must be 'shared memory', and in part 2 summary.operations
# must be N.  A difference is printed with the SQL that shows it, and the
# script exits 1 at the end.
#
# Output: a markdown report on stdout; bench/out/report-<timestamp>.csv (one
# row per round and query), report-<timestamp>-summary.csv (medians),
# report-<timestamp>-explain.txt (EXPLAIN ANALYZE of the SQL at the size
# closest to 100,000) and two PNG plots (gnuplot) in BENCH_PLOT_DIR:
# report-vs-profiles.png and report-vs-operations.png.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	SIZES=${BENCH_SIZES:-1000 3000}
	OPS_LIST=${BENCH_OPS:-10 100}
	OPS_PROFILES=${BENCH_OPS_PROFILES:-2000}
	ROUNDS=${BENCH_ROUNDS:-1}
	CALLS=${BENCH_CALLS:-3}
	PLOT_DIR=${BENCH_PLOT_DIR:-bench/out}
	MODE=smoke
else
	SIZES=${BENCH_SIZES:-10000 100000 1000000}
	OPS_LIST=${BENCH_OPS:-10 100 1000}
	OPS_PROFILES=${BENCH_OPS_PROFILES:-100000}
	ROUNDS=${BENCH_ROUNDS:-5}
	CALLS=${BENCH_CALLS:-20}
	PLOT_DIR=${BENCH_PLOT_DIR:-docs/img}
	MODE=full
fi
BUDGET_MS=${BENCH_BUDGET_MS:-2000}
SQL_BUDGET_S=${BENCH_SQL_BUDGET_S:-240}
CHUNK=${BENCH_CHUNK:-50000}
PORT=5495	# only names the socket file in our own directory; no TCP
. bench/lib.sh	# its helpers check the settings below

for v in OPS_PROFILES ROUNDS CALLS BUDGET_MS SQL_BUDGET_S CHUNK; do posint "$v" "${!v}"; done
increasing BENCH_SIZES "$SIZES"
MAX_OPS=0
for n in $OPS_LIST; do
	posint BENCH_OPS "$n"
	[ "$n" -le 10000 ] || { echo "bench: BENCH_OPS: at most 10000 operations, got $n" >&2; exit 2; }
	[ "$n" -gt "$MAX_OPS" ] && MAX_OPS=$n
done

pp_install_deps
command -v gnuplot >/dev/null || { echo "bench: gnuplot not found (package gnuplot-nox)" >&2; exit 1; }
pp_build_install

bench_tmp ppprof-bench-report
DB=bench
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN {printf "%.1f", b - a}'; }
sqlq() { printf '%s' "$1" | sed "s/'/''/g"; }	# as a SQL string literal's contents

# create_db NAME: a database with ppprof, the generators and the timing helpers
create_db() {
	pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres "$1"
	DB=$1
	psql_q -c "CREATE EXTENSION ppprof"
	cmp -s ppprof.so "$PKGLIB/ppprof.so" ||
		{ echo "bench: $PKGLIB/ppprof.so was replaced during CREATE EXTENSION; run again" >&2; exit 1; }
	psql_q <test/gen/rag_profiles.sql >/dev/null
	psql_q <bench/report_gen.sql >/dev/null
	psql_q <bench/bench_time.sql >/dev/null
	psql_q <<'EOF'
-- Profiles in the minute that the window [now() - w, now()] cuts at its old
-- edge, from its start to the end of that minute: what the functions read
-- from the table (none when the start is minute-aligned).
CREATE FUNCTION bench_edge_rows(w interval) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN date_trunc('minute', now() - w) = now() - w THEN 0 ELSE
         (SELECT count(*) FROM performance_profiles
           WHERE created_at >= now() - w
             AND created_at < date_trunc('minute', now() - w) + interval '1 minute') END
$$;
EOF
}

# load BASE N: profiles BASE+1 .. BASE+N of a batch spread evenly over the 24
# hours before now, in transactions of $CHUNK; NOPS names (empty: ppgen's)
load() {
	local base=$1 n=$2 nops=${3:-NULL} t_end k
	t_end=$(psql_q -At -c "SELECT now()")
	for ((k = 1; k <= n; k += CHUNK)); do
		psql_q -At -c "SELECT ppbench.load($base, $n, $k, $((k + CHUNK - 1 < n ? k + CHUNK - 1 : n)),
		                                   '24 hours', '$t_end', $nops)" >/dev/null
	done
	psql_q -c "VACUUM ANALYZE performance_profiles"
}

LOAD_START=$(loadavg)
T_START=$(now_s)

# --- cluster ------------------------------------------------------------------------
bench_initdb bench/report.sh
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'ppprof'
max_wal_size = 8GB
EOF
start_checked
create_db bench

# --- machine ----------------------------------------------------------------------------
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=unknown
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
PGVER=$(psql_q -At -c "SHOW server_version")
JIT=$(psql_q -At -c "SELECT current_setting('jit') || ' (available: ' || pg_jit_available() || ')'")
WORK_MEM=$(psql_q -At -c "SHOW work_mem")
KERNEL=$(uname -sr)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT (modified)"; fi

# --- queries ---------------------------------------------------------------------------
W_NAT="interval '24 hours'"
W_ALIGNED="(interval '24 hours' + (now() - date_trunc('minute', now())))"
W_FULL="(interval '24 hours' + (now() - date_trunc('minute', now())) - interval '1 microsecond')"
# The equivalent SQL: per operation and for the profiles (the report's summary)
exact_sql() {
	cat <<EOF
WITH RECURSIVE nodes AS (
  SELECT id, profile_data AS n FROM performance_profiles
   WHERE created_at >= now() - $1 AND created_at <= now()
  UNION ALL
  SELECT nodes.id, c FROM nodes, jsonb_array_elements(n->'children') c),
ops AS (
  SELECT n->>'operation_name' AS operation, count(*) AS calls,
         count(*) FILTER (WHERE jsonb_typeof(n->'error') = 'string') AS errors,
         avg((n->>'duration_ms')::float8) AS avg_ms,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY (n->>'duration_ms')::float8) AS p50_p95_p99
    FROM nodes GROUP BY 1),
failed AS (SELECT DISTINCT id FROM nodes WHERE jsonb_typeof(n->'error') = 'string'),
summary AS (
  SELECT count(*) AS calls, count(f.id) AS errors, avg(p.total_duration_ms) AS avg_ms,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY p.total_duration_ms) AS p50_p95_p99
    FROM performance_profiles p LEFT JOIN failed f ON f.id = p.id
   WHERE p.created_at >= now() - $1 AND p.created_at <= now())
SELECT NULL AS operation, * FROM summary
UNION ALL
SELECT * FROM ops
EOF
}
query_of() {	# query name -> SQL
	case $1 in
	report) echo "SELECT pp_optimization_report($W_NAT)" ;;
	report_aligned) echo "SELECT pp_optimization_report($W_ALIGNED)" ;;
	report_fulledge) echo "SELECT pp_optimization_report($W_FULL)" ;;
	stats) echo "SELECT * FROM pp_operation_stats($W_NAT)" ;;
	stats_aligned) echo "SELECT * FROM pp_operation_stats($W_ALIGNED)" ;;
	sql) exact_sql "$W_NAT" ;;
	esac
}
window_of() {
	case $1 in
	*_aligned) echo "$W_ALIGNED" ;;
	*_fulledge) echo "$W_FULL" ;;
	*) echo "$W_NAT" ;;
	esac
}

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out "$PLOT_DIR"
if [ "$MODE" = smoke ]; then BASE=bench/out/report-smoke-$STAMP; else BASE=bench/out/report-$STAMP; fi
CSV=$BASE.csv
SUM_CSV=$BASE-summary.csv
EXPLAIN_TXT=$BASE-explain.txt
echo "timestamp,mode,part,profiles,operations,round,query,calls,median_ms,min_ms,max_ms,edge_rows,loadavg_1m" >"$CSV"

declare -A MED	# "part size nops query" -> space-separated per-round medians (ms)
declare -A EDGE	# same key -> space-separated edge rows per round
declare -A SQLSPENT	# "part size nops" -> seconds the SQL took so far
# timeq PART SIZE NOPS QUERY CALLS
timeq() {
	local part=$1 size=$2 nops=$3 q=$4 k=$5 out times edge
	out=$(psql_q -At -F '|' -c "SELECT array_to_string(bench_time('$(sqlq "$(query_of "$q")")', $k, $BUDGET_MS), ' '),
	                                  bench_edge_rows($(window_of "$q"))")
	times=${out%%|*}
	edge=${out##*|}
	# shellcheck disable=SC2086
	set -- $times
	local m lo hi key="$part $size $nops $q"
	m=$(median "$@")
	lo=$(printf '%s\n' "$@" | sort -g | head -1)
	hi=$(printf '%s\n' "$@" | sort -g | tail -1)
	MED[$key]="${MED[$key]:-} $m"
	EDGE[$key]="${EDGE[$key]:-} $edge"
	echo "$STAMP,$MODE,$part,$size,$nops,$r,$q,$#,$m,$lo,$hi,$edge,$(cut -d' ' -f1 /proc/loadavg)" >>"$CSV"
	printf '%s %8s profiles %5s ops round %d %-16s %3d call(s), median %10.3f ms, edge %s rows\n' \
		"$part" "$size" "$nops" "$r" "$q" "$#" "$m" "$edge" >&2
	if [ "$q" = sql ]; then
		SQLSPENT[$part $size $nops]=$(awk -v a="${SQLSPENT[$part $size $nops]:-0}" -v b="$(median "$@")" 'BEGIN {print a + b / 1000}')
	fi
}

BUGS=0
# check PART SIZE NOPS: the report's summary against the table, one statement
declare -A WIN_PROFILES OPS_SEEN
check() {
	local part=$1 size=$2 nops=$3 out
	out=$(psql_q -At -F '|' <<'EOF'
SELECT (r->'summary'->>'total_profiled_queries')::bigint, c.n,
       (r->'summary'->>'avg_query_duration_ms')::float8, c.a,
       r->'summary'->>'source', (r->'summary'->>'operations')::int
  FROM (SELECT pp_optimization_report('24 hours') AS r) AS x,
       (SELECT count(*) AS n, avg(total_duration_ms) AS a FROM performance_profiles
         WHERE created_at >= now() - interval '24 hours' AND created_at <= now()) AS c
EOF
)
	local total n avg a source ops
	IFS='|' read -r total n avg a source ops <<<"$out"
	WIN_PROFILES[$part $size $nops]=$n
	OPS_SEEN[$part $size $nops]=$ops
	if [ "$total" != "$n" ] || [ "$source" != "shared memory" ] ||
		! awk -v x="$avg" -v y="$a" 'BEGIN {exit !(y == 0 ? x == 0 : (x - y) / y < 1e-6 && (y - x) / y < 1e-6)}' ||
		{ [ "$nops" != - ] && [ "$ops" != "$nops" ]; }; then
		echo "bench: BUG? database $DB, $size profiles, $nops operations: the report says total_profiled_queries $total," \
			"avg_query_duration_ms $avg, source '$source', operations $ops; the table says count(*) $n, avg $a" >&2
		echo "  reproduce (one statement, one now()): SELECT r->'summary', c.* FROM (SELECT pp_optimization_report('24 hours') r) x," \
			"(SELECT count(*), avg(total_duration_ms) FROM performance_profiles WHERE created_at >= now() - interval '24 hours' AND created_at <= now()) c;" >&2
		BUGS=$((BUGS + 1))
	fi
}
info() { psql_q -At -c "SELECT pp_info()->>'$1'"; }

# --- part 1: profiles ------------------------------------------------------------------
declare -A LOAD_S NODES MINUTE_BUCKETS LOAD_ROUNDS
EXPLAIN_SIZE=$(for s in $SIZES; do echo "$s"; done | awk '{d = $1 > 100000 ? $1 - 100000 : 100000 - $1} NR == 1 || d < best {best = d; s = $1} END {print s}')
loaded=0
for size in $SIZES; do
	echo "bench: loading $((size - loaded)) profiles (total $size) ..." >&2
	t=$(now_s)
	load "$loaded" "$((size - loaded))"
	LOAD_S[$size]=$(since "$t")
	loaded=$size
	NODES[$size]=$(info nodes_ingested)
	MINUTE_BUCKETS[1 $size]="$(info minute_buckets) of $(info minute_buckets_max)"
	check 1 "$size" -
	if [ "$size" = "$EXPLAIN_SIZE" ]; then
		{
			echo "-- EXPLAIN (ANALYZE, BUFFERS) of the equivalent SQL at $size profiles"
			psql_q -c "EXPLAIN (ANALYZE, BUFFERS) $(exact_sql "$W_NAT")"
		} >"$EXPLAIN_TXT" 2>&1
	fi
	LOAD_ROUNDS[1 $size]=
	for ((r = 1; r <= ROUNDS; r++)); do
		LOAD_ROUNDS[1 $size]="${LOAD_ROUNDS[1 $size]}$(cut -d' ' -f1 /proc/loadavg) "
		timeq 1 "$size" - report "$CALLS"
		if awk -v s="${SQLSPENT[1 $size -]:-0}" -v b="$SQL_BUDGET_S" 'BEGIN {exit !(s < b)}'; then
			timeq 1 "$size" - sql 1
		fi
		timeq 1 "$size" - report_aligned "$CALLS"
		timeq 1 "$size" - report_fulledge "$CALLS"
		timeq 1 "$size" - stats "$CALLS"
		timeq 1 "$size" - stats_aligned "$CALLS"
	done
done
SHM_DEFAULT=$(info shared_memory_bytes)
PROFILE_BYTES=$(psql_q -At -c "SELECT pg_size_pretty(pg_total_relation_size('performance_profiles'))")

# --- part 2: operations ------------------------------------------------------------------
# every operation busy every minute: about 1,500 minute and 26 hour buckets each
PER_MIN=$(((10 * OPS_PROFILES + 1439) / 1440))
BUSY=$((MAX_OPS < PER_MIN ? MAX_OPS : PER_MIN))
MAXOPS_SET=$((MAX_OPS + 200))
MAXMIN_SET=$(((BUSY + 1) * 1560 + 30000))
MAXHOUR_SET=$(((MAX_OPS + 1) * 30 + 5000))
DB=postgres
psql_q -c "DROP DATABASE bench" >/dev/null
stop_server
cat >>"$DATA/postgresql.conf" <<EOF
# bench/report.sh, part 2: room for $MAX_OPS operations busy every minute
ppprof.max_operations = $MAXOPS_SET
ppprof.max_minute_buckets = $MAXMIN_SET
ppprof.max_hour_buckets = $MAXHOUR_SET
EOF
start_checked
create_db ops
SHM_OPS=$(info shared_memory_bytes)
for nops in $OPS_LIST; do
	echo "bench: loading $OPS_PROFILES profiles with $nops operation names ..." >&2
	psql_q -c "TRUNCATE performance_profiles"
	t=$(now_s)
	load 0 "$OPS_PROFILES" "$nops"
	LOAD_S[ops $nops]=$(since "$t")
	MINUTE_BUCKETS[2 $OPS_PROFILES $nops]="$(info minute_buckets) of $(info minute_buckets_max)"
	check 2 "$OPS_PROFILES" "$nops"
	LOAD_ROUNDS[2 $nops]=
	for ((r = 1; r <= ROUNDS; r++)); do
		LOAD_ROUNDS[2 $nops]="${LOAD_ROUNDS[2 $nops]}$(cut -d' ' -f1 /proc/loadavg) "
		timeq 2 "$OPS_PROFILES" "$nops" report "$CALLS"
		if [ "$r" = 1 ]; then timeq 2 "$OPS_PROFILES" "$nops" sql 1; fi
		timeq 2 "$OPS_PROFILES" "$nops" report_aligned "$CALLS"
		timeq 2 "$OPS_PROFILES" "$nops" report_fulledge "$CALLS"
		timeq 2 "$OPS_PROFILES" "$nops" stats "$CALLS"
		timeq 2 "$OPS_PROFILES" "$nops" stats_aligned "$CALLS"
	done
done
LOAD_END=$(loadavg)
if cmp -s ppprof.so "$PKGLIB/ppprof.so"; then SO_NOTE=; else
	SO_NOTE=" (note: $PKGLIB/ppprof.so was replaced by another build during the run; the server kept the one it started with)"
fi
ELAPSED=$(since "$T_START")

# --- summary, plots, report ------------------------------------------------------------------
med_of() { if [ -n "${MED[$1]:-}" ]; then median ${MED[$1]}; fi; }
nrounds_of() { if [ -n "${MED[$1]:-}" ]; then set -- ${MED[$1]}; echo $#; else echo 0; fi; }
range_of() {
	[ -n "${MED[$1]:-}" ] || return 0
	printf '%s\n' ${MED[$1]} | sort -g | awk 'function f(x) {return sprintf(x < 10 ? "%.2f" : x < 100 ? "%.1f" : "%.0f", x)}
		NR == 1 {lo = $1} {hi = $1} END {print f(lo) "–" f(hi)}'
}
edge_of() { if [ -n "${EDGE[$1]:-}" ]; then median ${EDGE[$1]}; fi; }
QUERIES="report sql report_aligned report_fulledge stats stats_aligned"
echo "part,profiles,profiles_in_window,operations,query,rounds,median_ms,min_round_ms,max_round_ms,edge_rows_median" >"$SUM_CSV"
sum_rows() {	# part size nops
	local q key
	for q in $QUERIES; do
		key="$1 $2 $3 $q"
		[ -n "${MED[$key]:-}" ] || continue
		printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$1" "$2" "${WIN_PROFILES[$1 $2 $3]}" "$3" "$q" "$(nrounds_of "$key")" \
			"$(med_of "$key")" "$(printf '%s\n' ${MED[$key]} | sort -g | head -1)" \
			"$(printf '%s\n' ${MED[$key]} | sort -g | tail -1)" "$(edge_of "$key")"
	done
}
for size in $SIZES; do sum_rows 1 "$size" -; done >>"$SUM_CSV"
for nops in $OPS_LIST; do sum_rows 2 "$OPS_PROFILES" "$nops"; done >>"$SUM_CSV"

# gnuplot data: one line per x, columns per query (NaN when missing)
plot_data() {	# part -> "x report sql report_aligned report_fulledge stats stats_aligned"
	awk -F, -v p="$1" 'NR > 1 && $1 == p {
		x = (p == 1) ? $3 : $4; xs[x] = 1; v[x, $5] = $7 }
		END { n = split("report sql report_aligned report_fulledge stats stats_aligned", q, " ")
		      for (x in xs) { line = x; for (i = 1; i <= n; i++) line = line " " (((x, q[i]) in v) ? v[x, q[i]] : "NaN"); print line } }' "$SUM_CSV" | sort -g
}
plot_data 1 >"$TMP/p1.dat"
plot_data 2 >"$TMP/p2.dat"
PNG1=$PLOT_DIR/report-vs-profiles.png
PNG2=$PLOT_DIR/report-vs-operations.png
gnuplot <<EOF
set terminal pngcairo size 1000,700 font 'sans,11' noenhanced
set grid
set logscale xy
set key outside bottom center vertical Left reverse maxrows 3 width 2
set format y '%g'
set format x '%g'
set offsets graph 0.05, graph 0.05, 0, 0
set ylabel 'time per call (ms, log scale)'
lbl(y) = y < 10 ? sprintf('%.1f', y) : sprintf('%.0f', y)
set output '$PNG1'
set title 'pp_optimization_report(''24 hours'') vs the equivalent SQL ($MODE run, $STAMP)'
set xlabel 'profiles in the 24-hour window (log scale; about 10 nodes each)'
plot '$TMP/p1.dat' using 1:3 with linespoints lw 2 pt 7 lc rgb '#c0392b' title 'equivalent SQL (recursive CTE, percentile_cont)', \
     '' using 1:3:(lbl(\$3)) with labels offset 0,1 tc rgb '#c0392b' notitle, \
     '' using 1:2 with linespoints lw 2 pt 5 lc rgb '#1f618d' title 'pp_optimization_report(''24 hours'')', \
     '' using 1:2:(lbl(\$2)) with labels offset 0,-1 tc rgb '#1f618d' notitle, \
     '' using 1:5 with linespoints lw 1 pt 9 lc rgb '#7d3c98' title 'report, whole edge minute read from the table', \
     '' using 1:4 with linespoints lw 1 pt 11 lc rgb '#148f77' title 'report, minute-aligned start (no edge read)', \
     '' using 1:6 with linespoints lw 1 pt 13 dt 2 lc rgb '#555555' title 'pp_operation_stats(''24 hours'')'
set output '$PNG2'
set title 'pp_optimization_report(''24 hours''), $OPS_PROFILES profiles, vs distinct operations ($MODE run, $STAMP)'
set xlabel 'distinct operation names (log scale)'
plot '$TMP/p2.dat' using 1:3 with linespoints lw 2 pt 7 lc rgb '#c0392b' title 'equivalent SQL (1 call)', \
     '' using 1:3:(lbl(\$3)) with labels offset 0,1 tc rgb '#c0392b' notitle, \
     '' using 1:2 with linespoints lw 2 pt 5 lc rgb '#1f618d' title 'pp_optimization_report(''24 hours'')', \
     '' using 1:2:(lbl(\$2)) with labels offset 0,-1 tc rgb '#1f618d' notitle, \
     '' using 1:5 with linespoints lw 1 pt 9 lc rgb '#7d3c98' title 'report, whole edge minute read from the table', \
     '' using 1:4 with linespoints lw 1 pt 11 lc rgb '#148f77' title 'report, minute-aligned start (no edge read)', \
     '' using 1:6 with linespoints lw 1 pt 13 dt 2 lc rgb '#555555' title 'pp_operation_stats(''24 hours'')'
EOF

fmt() { awk -v x="$1" 'BEGIN {if (x == "") print "–"; else printf(x < 10 ? "%.2f" : x < 100 ? "%.1f" : "%.0f", x)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "–"; else printf(a / b < 10 ? "%.1f×" : "%.0f×", a / b)}'; }
cell() {	# key -> "**median** (range)"
	local m
	m=$(med_of "$1")
	[ -n "$m" ] || { echo "–"; return; }
	if [ "$(nrounds_of "$1")" -gt 1 ]; then echo "$(fmt "$m") ($(range_of "$1"))"; else echo "$(fmt "$m") (1 call)"; fi
}

cat <<EOF
## Report benchmark ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC')

- machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, $KERNEL
- load average (1, 5, 15 min): $LOAD_START at the start, $LOAD_END at the end; run took $ELAPSED s
- PostgreSQL: $PGVER, jit = $JIT, work_mem = $WORK_MEM; ppprof commit $COMMIT$SO_NOTE
- timing: inside the server (plpgsql loop, clock_timestamp(), every row fetched), at most
  $CALLS calls per report query and round or $BUDGET_MS ms; $ROUNDS round(s); the SQL once per
  round while its total at that size is under $SQL_BUDGET_S s (part 2: first round only);
  figures: median over rounds of each round's median per-call time (range of the round medians)

### Part 1: profiles (every ppprof.* setting at its default)

| profiles loaded | in the window | nodes | loaded in (s) | minute buckets in use | 1-min load at each round |
|---:|---:|---:|---:|---|---|
EOF
for size in $SIZES; do
	echo "| $size | ${WIN_PROFILES[1 $size -]} | ${NODES[$size]} | ${LOAD_S[$size]} | ${MINUTE_BUCKETS[1 $size]} | ${LOAD_ROUNDS[1 $size]}|"
done
cat <<EOF

Per call, ms:

| profiles | report('24 hours') | SQL | SQL / report | report, no edge | report, full edge minute | edge rows (median) | pp_operation_stats | pp_operation_stats, no edge |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
for size in $SIZES; do
	k="1 $size -"
	echo "| ${WIN_PROFILES[$k]} | **$(cell "$k report")** | $(cell "$k sql") | **$(ratio "$(med_of "$k sql")" "$(med_of "$k report")")** |" \
		"$(cell "$k report_aligned") | $(cell "$k report_fulledge") | $(edge_of "$k report") (full: $(edge_of "$k report_fulledge")) |" \
		"$(cell "$k stats") | $(cell "$k stats_aligned") |"
done
cat <<EOF

### Part 2: operations ($OPS_PROFILES profiles over 24 hours; ppprof.max_operations = $MAXOPS_SET, max_minute_buckets = $MAXMIN_SET, max_hour_buckets = $MAXHOUR_SET: $SHM_OPS bytes of shared memory, against $SHM_DEFAULT at the defaults)

| operations | loaded in (s) | minute buckets in use | report('24 hours') | report, no edge | report, full edge minute | edge rows (median) | pp_operation_stats | pp_operation_stats, no edge | SQL (1 call) | 1-min load at each round |
|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|
EOF
for nops in $OPS_LIST; do
	k="2 $OPS_PROFILES $nops"
	echo "| $nops | ${LOAD_S[ops $nops]} | ${MINUTE_BUCKETS[$k]} | **$(cell "$k report")** | $(cell "$k report_aligned") |" \
		"$(cell "$k report_fulledge") | $(edge_of "$k report") (full: $(edge_of "$k report_fulledge")) | $(cell "$k stats") |" \
		"$(cell "$k stats_aligned") | $(cell "$k sql") | ${LOAD_ROUNDS[2 $nops]}|"
done
echo
if [ -s "$EXPLAIN_TXT" ]; then
	echo "EXPLAIN ANALYZE of the SQL at $EXPLAIN_SIZE profiles ($EXPLAIN_TXT), main lines:"
	echo
	echo '```'
	grep -E 'Sort Method|Execution Time|Planning Time|^ *(Timing|JIT)|Functions:|CTE Scan|Recursive Union' "$EXPLAIN_TXT" | sed 's/^ *//' | head -20
	echo '```'
	echo
fi
echo "Checks: report summary vs the table at every size: $([ "$BUGS" = 0 ] && echo "equal (total_profiled_queries = count(*), avg_query_duration_ms = avg(total_duration_ms), source shared memory, operations = N)" || echo "**$BUGS difference(s), see stderr**")"
echo
echo "CSV: $CSV, $SUM_CSV; plots: $PNG1, $PNG2"
if [ "$BUGS" != 0 ]; then
	echo "bench: the report differed from the table $BUGS time(s) (see above)" >&2
	exit 1
fi
