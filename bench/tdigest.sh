#!/usr/bin/env bash
# bench/tdigest.sh -- percentile accuracy and speed: pp_operation_stats('24
# hours') against the exact SQL and against the tdigest extension
# (Debian: postgresql-$PG_MAJOR-tdigest) over the same durations, at 10k,
# 100k and 1M profiles.  What "make bench-tdigest" runs (and "make bench" / "make
# bench-smoke" too).
#
#   bash bench/tdigest.sh                  default: 10k, 100k, 1M profiles, 3 rounds
#   BENCH_SIZES="10000 100000" bash bench/tdigest.sh
#   BENCH_SMOKE=1 bash bench/tdigest.sh    1,000 and 3,000 profiles, 1 round: proves the script works
#
# Environment:
#   BENCH_SIZES         profiles over the last 24 hours, increasing; the table
#                       grows from one size to the next (default "10000 100000
#                       1000000"; smoke "1000 3000")
#   BENCH_ROUNDS        rounds per size (default 3; smoke 1)
#   BENCH_CALLS         at most this many calls of a query per round (default 10; smoke 2)
#   BENCH_BUDGET_MS     ... and no more calls once this much time went into it (default 3000)
#   BENCH_COMPRESSION   tdigest's compression (default 100, the extension's usual value)
#   BENCH_SQL_BUDGET_S  the exact SQL over the JSON (recursive flattening of
#                       profile_data) runs once per size, in the first round,
#                       while its calls so far took less than this (default 240)
#   BENCH_CHUNK         profiles inserted per transaction while loading (default 50000)
#   BENCH_PLOT_DIR      where tdigest-time.png goes (default docs/img; smoke bench/out)
#   BENCH_CONF          more postgresql.conf lines, e.g. 'ppprof.sketch_memory = 128MB'
#
# Method.  A throwaway cluster (temp dir, Unix socket only, no TCP) with
# shared_preload_libraries = 'ppprof' and every ppprof.* setting at its
# default; CREATE EXTENSION ppprof and tdigest.  For each size S, the
# missing profiles of ppgen.profile (test/gen/rag_profiles.sql, 10 nodes)
# are spread over the 24 hours before that load (ppbench.load,
# bench/report_gen.sql).  Then the table flat(created_at, operation, d) is
# rebuilt from pp_analyze_profile() of every profile: the durations exactly
# as ppprof sees them (duration_ms, or end_time - start_time), one row per
# node.  And td_rollup(minute, operation, digest): one tdigest per minute and
# operation, what a user who keeps digests precomputed would store.
#
# The competitors, each timed inside the server with bench_time()
# (bench/bench_time.sql: EXECUTE in a plpgsql loop, every row fetched):
#
#   ppprof        SELECT operation, p50_ms, p95_ms, p99_ms
#                   FROM pp_operation_stats('24 hours')
#   exact_flat    percentile_cont(ARRAY[.5, .95, .99]) per operation over
#                 flat, the last 24 hours (flattening already done: generous)
#   tdigest_flat  tdigest_percentile(d, compression, ARRAY[.5, .95, .99]) per
#                 operation over flat, the last 24 hours
#   tdigest_rollup  tdigest_percentile(digest, ARRAY[...]) per operation over
#                 the minutes of td_rollup from the window's first minute
#                 (its whole first minute: a rollup cannot cut a minute)
#   exact_json    the exact SQL a user would write over performance_profiles:
#                 recursive flattening of profile_data, then percentile_cont
#                 (once per size, within BENCH_SQL_BUDGET_S)
#
# Accuracy, once per size, in one statement (one now()): per operation, the
# relative error |estimate - exact| / exact of p50, p95 and p99, against
# percentile_cont (interpolated, the issue's reference) and percentile_disc
# (an observed value) over exactly the nodes of the window.  Reported: the
# worst over the operations, per quantile and method.  Calls must agree:
# pp_operation_stats' calls with count(*) (the script fails otherwise).
#
# Output: markdown tables on stdout, bench/out/tdigest-<timestamp>.csv (per
# round and query), tdigest-<timestamp>-accuracy.csv (per size, operation,
# quantile and method) and a PNG plot (gnuplot) of the time of each
# competitor against the number of profiles.  Nothing here asserts a timing
# or an accuracy; the script fails only when a step fails or calls differ.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	SIZES=${BENCH_SIZES:-1000 3000}
	ROUNDS=${BENCH_ROUNDS:-1}
	CALLS=${BENCH_CALLS:-2}
	PLOT_DIR=${BENCH_PLOT_DIR:-bench/out}
	MODE=smoke
else
	SIZES=${BENCH_SIZES:-10000 100000 1000000}
	ROUNDS=${BENCH_ROUNDS:-3}
	CALLS=${BENCH_CALLS:-10}
	PLOT_DIR=${BENCH_PLOT_DIR:-docs/img}
	MODE=full
fi
BUDGET_MS=${BENCH_BUDGET_MS:-3000}
COMPRESSION=${BENCH_COMPRESSION:-100}
SQL_BUDGET_S=${BENCH_SQL_BUDGET_S:-240}
CHUNK=${BENCH_CHUNK:-50000}
PORT=5493	# only names the socket file in our own directory; no TCP
. bench/lib.sh	# its helpers check the settings below

for v in ROUNDS CALLS BUDGET_MS COMPRESSION SQL_BUDGET_S CHUNK; do posint "$v" "${!v}"; done
increasing BENCH_SIZES "$SIZES"
if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/tdigest.control" ]; then
	echo "bench: the tdigest extension is not installed (Debian: apt-get install postgresql-$PG_MAJOR-tdigest; make test installs it)" >&2
	exit 1
fi
pp_build_install

bench_tmp ppprof-bench-tdigest
DB=bench
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out "$PLOT_DIR"
CSV=bench/out/tdigest-$STAMP.csv
ACC_CSV=bench/out/tdigest-$STAMP-accuracy.csv
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN {printf "%.1f", b - a}'; }
LOAD_START=$(loadavg)
T_START=$(now_s)

bench_initdb bench/tdigest.sh
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'ppprof'
max_wal_size = 8GB
work_mem = '64MB'
${BENCH_CONF:-}
EOF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof" -c "CREATE EXTENSION tdigest"
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <bench/report_gen.sql >/dev/null
psql_q <bench/bench_time.sql >/dev/null
psql_q <<EOF
CREATE TABLE flat (created_at timestamptz NOT NULL, operation text NOT NULL, d float8 NOT NULL);
CREATE TABLE td_rollup (minute timestamptz NOT NULL, operation text NOT NULL, digest tdigest NOT NULL);

-- every estimate next to the exact values, per operation and quantile, in
-- one statement (one now())
CREATE FUNCTION accuracy()
RETURNS TABLE (operation text, quantile float8, calls_exact bigint, calls_pp bigint,
               calls_rollup bigint, exact_cont float8, exact_disc float8,
               ppprof float8, tdigest_flat float8, tdigest_rollup float8)
LANGUAGE sql AS \$\$
  WITH w AS (SELECT * FROM flat WHERE created_at >= now() - interval '24 hours' AND created_at <= now()),
  e AS (SELECT operation, count(*) AS calls,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY d) AS cont,
               percentile_disc(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY d) AS disc,
               tdigest_percentile(d, $COMPRESSION, ARRAY[0.5, 0.95, 0.99]::float8[]) AS td
          FROM w GROUP BY operation),
  r AS (SELECT operation, sum(tdigest_count(digest))::bigint AS calls,
               tdigest_percentile(digest, ARRAY[0.5, 0.95, 0.99]::float8[]) AS td
          FROM td_rollup WHERE minute >= date_trunc('minute', now() - interval '24 hours')
         GROUP BY operation),
  p AS (SELECT operation, calls, ARRAY[p50_ms, p95_ms, p99_ms] AS v
          FROM pp_operation_stats('24 hours') WHERE operation IS NOT NULL)
  SELECT e.operation, (ARRAY[0.5, 0.95, 0.99]::float8[])[i], e.calls, p.calls, r.calls,
         e.cont[i], e.disc[i], p.v[i], e.td[i], r.td[i]
    FROM e JOIN p USING (operation) LEFT JOIN r USING (operation), generate_series(1, 3) i
   ORDER BY 1, 2
\$\$;
EOF

# load BASE N: profiles BASE+1 .. BASE+N spread over the 24 hours before now
load() {
	local base=$1 n=$2 t_end k
	t_end=$(psql_q -At -c "SELECT now()")
	for ((k = 1; k <= n; k += CHUNK)); do
		psql_q -At -c "SELECT ppbench.load($base, $n, $k, $((k + CHUNK - 1 < n ? k + CHUNK - 1 : n)),
		                                   '24 hours', '$t_end')" >/dev/null
	done
}

Q_PP="SELECT operation, p50_ms, p95_ms, p99_ms FROM pp_operation_stats('24 hours')"
W_FLAT="FROM flat WHERE created_at >= now() - interval '24 hours' AND created_at <= now() GROUP BY operation"
Q_EXACT_FLAT="SELECT operation, percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY d) $W_FLAT"
Q_TD_FLAT="SELECT operation, tdigest_percentile(d, $COMPRESSION, ARRAY[0.5, 0.95, 0.99]) $W_FLAT"
Q_TD_ROLLUP="SELECT operation, tdigest_percentile(digest, ARRAY[0.5, 0.95, 0.99]) FROM td_rollup
 WHERE minute >= date_trunc('minute', now() - interval '24 hours') GROUP BY operation"
Q_EXACT_JSON="WITH RECURSIVE nodes AS (
  SELECT p.profile_data AS n FROM performance_profiles p
   WHERE p.created_at >= now() - interval '24 hours' AND p.created_at <= now()
  UNION ALL
  SELECT c FROM nodes, jsonb_array_elements(CASE WHEN jsonb_typeof(n->'children') = 'array' THEN n->'children' ELSE '[]' END) c)
SELECT n->>'operation_name' AS operation,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
         coalesce((n->>'duration_ms')::float8, ((n->>'end_time')::float8 - (n->>'start_time')::float8) * 1000))
  FROM nodes GROUP BY 1"
QUERIES="ppprof exact_flat tdigest_flat tdigest_rollup"
query_of() {
	case $1 in
	ppprof) echo "$Q_PP" ;;
	exact_flat) echo "$Q_EXACT_FLAT" ;;
	tdigest_flat) echo "$Q_TD_FLAT" ;;
	tdigest_rollup) echo "$Q_TD_ROLLUP" ;;
	exact_json) echo "$Q_EXACT_JSON" ;;
	esac
}
sqlq() { printf '%s' "$1" | sed "s/'/''/g"; }

echo "timestamp,mode,profiles,round,query,calls,median_ms,min_ms,max_ms,loadavg_1m" >"$CSV"
echo "profiles,operation,quantile,calls,exact_cont,exact_disc,ppprof,tdigest_flat,tdigest_rollup" >"$ACC_CSV"
declare -A T		# "size query" -> per-round medians
declare -A LOADED FLATTENED FLAT_ROWS ROLLUP_ROWS
have=0
for size in $SIZES; do
	t0=$(now_s)
	load "$have" $((size - have))
	have=$size
	psql_q -c "VACUUM ANALYZE performance_profiles"
	LOADED[$size]=$(since "$t0")
	t0=$(now_s)
	psql_q <<EOF
TRUNCATE flat, td_rollup;
INSERT INTO flat
SELECT p.created_at, a.operation, a.duration_ms
  FROM performance_profiles p, LATERAL pp_analyze_profile(p.profile_data) a;
INSERT INTO td_rollup
SELECT date_trunc('minute', created_at), operation, tdigest(d, $COMPRESSION) FROM flat GROUP BY 1, 2;
VACUUM ANALYZE flat;
VACUUM ANALYZE td_rollup;
EOF
	FLATTENED[$size]=$(since "$t0")
	FLAT_ROWS[$size]=$(psql_q -At -c "SELECT count(*) FROM flat")
	ROLLUP_ROWS[$size]=$(psql_q -At -c "SELECT count(*) FROM td_rollup")
	echo "bench: $size profiles loaded in ${LOADED[$size]} s; flat ${FLAT_ROWS[$size]} rows, rollup ${ROLLUP_ROWS[$size]} digests in ${FLATTENED[$size]} s" >&2

	# accuracy, and the calls check
	psql_q -c "DROP TABLE IF EXISTS acc" -c "CREATE TABLE acc AS SELECT * FROM accuracy()"
	psql_q -At -F, -c "SELECT $size, operation, quantile, calls_exact, exact_cont, exact_disc, ppprof, tdigest_flat, tdigest_rollup
	                     FROM acc ORDER BY operation, quantile" >>"$ACC_CSV"
	bad=$(psql_q -At -c "SELECT count(*) FROM acc WHERE calls_exact IS DISTINCT FROM calls_pp")
	if [ "$bad" != 0 ]; then
		echo "bench: BUG? pp_operation_stats' calls differ from the nodes in the window at $size profiles:" >&2
		psql_q -c "SELECT DISTINCT operation, calls_exact, calls_pp FROM acc WHERE calls_exact IS DISTINCT FROM calls_pp" >&2
		exit 1
	fi

	json_spent=0
	for ((r = 1; r <= ROUNDS; r++)); do
		list=$QUERIES
		if [ "$r" = 1 ]; then list="$list exact_json"; fi
		for qn in $list; do
			k=$CALLS budget=$BUDGET_MS
			if [ "$qn" = exact_json ]; then
				[ "$json_spent" -lt "$SQL_BUDGET_S" ] || continue
				k=1 budget=0
			fi
			times=$(psql_q -At -c "SELECT array_to_string(bench_time('$(sqlq "$(query_of "$qn")")', $k, $budget), ' ')")
			# shellcheck disable=SC2086
			med=$(median $times)
			# shellcheck disable=SC2086
			set -- $(printf '%s\n' $times | sort -g)
			n=$#
			lo=$1
			hi=${!n}
			T[$size $qn]="${T[$size $qn]:-} $med"
			echo "$STAMP,$MODE,$size,$r,$qn,$n,$med,$lo,$hi,$(load1)" >>"$CSV"
			if [ "$qn" = exact_json ]; then json_spent=$((json_spent + ${med%.*} / 1000 + 1)); fi
			echo "bench: $size profiles, round $r, $qn: median $med ms of $n call(s)" >&2
		done
	done
done
LOAD_END=$(loadavg)

# --- report ----------------------------------------------------------------------------
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
PGVER=$(psql_q -At -c "SHOW server_version")
TDVER=$(psql_q -At -c "SELECT extversion FROM pg_extension WHERE extname = 'tdigest'")
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT (modified)"; fi
med_of() { median ${T[$1]}; }

echo "## Percentiles: ppprof against the exact SQL and tdigest ($MODE run, $STAMP)"
echo
echo "- commit $COMMIT; PostgreSQL $PGVER; tdigest $TDVER, compression $COMPRESSION; ppprof.sketch_memory = $(psql_q -At -c 'SHOW ppprof.sketch_memory')"
echo "- $(nproc) CPUs ($CPU_MODEL); load average $LOAD_START at the start, $LOAD_END at the end; $(since "$T_START") s"
echo "- $ROUNDS round(s) per size; per query the median over rounds of each round's median call"
echo
echo "### Time (ms) of the 24-hour percentiles per operation"
echo
echo "| profiles | nodes in flat | ppprof | exact over flat | tdigest over flat | tdigest rollup ($COMPRESSION, per minute) | exact over the JSON (1 call) | exact flat / ppprof | tdigest flat / ppprof | rollup / ppprof |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
: >"$TMP/plot.dat"
for size in $SIZES; do
	pp=$(med_of "$size ppprof")
	ef=$(med_of "$size exact_flat")
	tf=$(med_of "$size tdigest_flat")
	tr=$(med_of "$size tdigest_rollup")
	ej=${T[$size exact_json]:-}
	ej=${ej# }
	awk -v s="$size" -v n="${FLAT_ROWS[$size]}" -v pp="$pp" -v ef="$ef" -v tf="$tf" -v tr="$tr" -v ej="${ej:-NaN}" \
		'BEGIN {printf "| %d | %d | **%.2f** | %.1f | %.1f | %.2f | %s | %.0f | %.0f | %.1f |\n",
			s, n, pp, ef, tf, tr, (ej == "NaN") ? "not run" : sprintf("%.0f", ej), ef / pp, tf / pp, tr / pp}'
	echo "$size $pp $ef $tf $tr ${ej:-NaN}" >>"$TMP/plot.dat"
done
echo
echo "### Worst relative error over the operations, |estimate - exact| / exact"
echo
echo "| profiles | quantile | ppprof vs cont | tdigest flat vs cont | tdigest rollup vs cont | ppprof vs disc | tdigest flat vs disc | tdigest rollup vs disc |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -F, 'NR > 1 {
	k = $1 "," $3
	if (!(k in seen)) { seen[k] = 1; order[n++] = k }
	e[k ",pc"] = max(e[k ",pc"], rel($7, $5)); e[k ",tc"] = max(e[k ",tc"], rel($8, $5)); e[k ",rc"] = max(e[k ",rc"], rel($9, $5))
	e[k ",pd"] = max(e[k ",pd"], rel($7, $6)); e[k ",td"] = max(e[k ",td"], rel($8, $6)); e[k ",rd"] = max(e[k ",rd"], rel($9, $6))
}
function rel(v, x) { return (x == 0) ? ((v == 0) ? 0 : 1) : ((v > x) ? v - x : x - v) / x }
function max(a, b) { return (a == "" || b > a) ? b : a }
END { for (i = 0; i < n; i++) { k = order[i]; split(k, f, ",")
	printf "| %d | p%g | %.3f%% | %.3f%% | %.3f%% | %.3f%% | %.3f%% | %.3f%% |\n", f[1], f[2] * 100,
		100 * e[k ",pc"], 100 * e[k ",tc"], 100 * e[k ",rc"], 100 * e[k ",pd"], 100 * e[k ",td"], 100 * e[k ",rd"] } }' "$ACC_CSV"
echo

PNG=$PLOT_DIR/tdigest-time.png
gnuplot <<EOF
set terminal pngcairo size 1000,620 font 'sans,11' noenhanced
set output '$PNG'
set title "24-hour p50/p95/p99 per operation: time against profiles ($MODE run, $STAMP)"
set logscale xy
set xlabel 'profiles in the window (10 nodes each)'
set ylabel 'ms per call (log scale, lower is better)'
set grid
set key top left
plot '$TMP/plot.dat' using 1:2 with linespoints lw 2 title 'ppprof: pp_operation_stats', \
     '' using 1:3 with linespoints title 'exact: percentile_cont over flattened rows', \
     '' using 1:4 with linespoints title 'tdigest over flattened rows', \
     '' using 1:5 with linespoints title 'tdigest rollup (one digest per minute and operation)', \
     '' using 1:6 with linespoints title 'exact SQL over the JSON'
EOF
echo "Plot: $PNG"
echo
echo "CSV: $CSV, $ACC_CSV"
