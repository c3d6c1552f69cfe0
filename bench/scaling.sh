#!/usr/bin/env bash
# bench/scaling.sh -- how far one node goes, for docs/scaling.md ("How far
# one node goes"): sustained ingest in profiles per second, the shared
# memory of the statistics, and the size of the rollups per day.  What
# "make bench-scaling" runs (and "make bench" / "make bench-smoke").
#
#   bash bench/scaling.sh                  default: about 8 minutes
#   BENCH_SECONDS=10 BENCH_CLIENTS="1 2 4" bash bench/scaling.sh
#   BENCH_SMOKE=1 bash bench/scaling.sh    tiny sizes: proves the script works
#
# Environment:
#   BENCH_SECONDS        duration of each pgbench run (default 12; smoke 2)
#   BENCH_ROUNDS         rounds of the ingest part (default 5; smoke 1)
#   BENCH_CLIENTS        client counts of the ingest part, pgbench -c N -j N (default "1 2")
#   BENCH_DAY_PROFILES   profiles of the day loaded for the rollups (default 100000; smoke 2000)
#   BENCH_DENSE_PER_DAY  rate of the dense sample, profiles a day (default 1000000; smoke 20000)
#   BENCH_DENSE_HOURS    hours of the dense sample (default 2; smoke 1)
#
# A throwaway cluster (temp dir, Unix socket only) with
# shared_preload_libraries = 'ppprof', every ppprof.* setting at its
# default, synchronous_commit = off (as bench/ingest.sh), fsync on.
#
# 1. Shared memory.  pp_info() of the fresh server: shared_memory_bytes,
#    sketch_memory_bytes and the bucket pools, all at their defaults.
#
# 2. Ingest.  pgbench -M prepared, N clients, BENCH_SECONDS a run, each
#    transaction one INSERT of a profile picked at random from 1,000
#    generated 10-node profiles (ppgen.profile, test/gen/rag_profiles.sql,
#    stored as JSON text in bench_src), into
#      plain   plain_profiles: performance_profiles' columns, no trigger
#      ppprof  performance_profiles: validation, analysis columns,
#              statistics, and the rollup worker (on by default) writing
#              each minute as it closes
#    one after the other in each round (plain first in odd rounds, ppprof
#    first in even ones: on a shared machine the load changes within a
#    round), the tables truncated and a CHECKPOINT before each run.  Every transaction's row is checked to be stored
#    (and analysed, for ppprof).  Reported: profiles per second, median
#    and range over the rounds, and the median of the per-round ratios
#    ppprof / plain; and the bytes the table takes per profile.
#
# 3. Rollups.  ppprof.rollup_worker off (pg_reload_conf), then, for each
#    of two samples, TRUNCATE performance_profiles (which deletes its
#    rollups), ppgen.load of the sample ending at the start of the current
#    hour, pp_info()'s buckets and the sketch memory the sample took (its
#    growth: TRUNCATE leaves the blocks it let go counted until a sweep),
#    and one pp_rollup() (timed):
#      day    BENCH_DAY_PROFILES profiles spread evenly over 24 hours
#      dense  BENCH_DENSE_HOURS hours at the rate of BENCH_DENSE_PER_DAY
#             profiles a day (a sample of such a day: its minutes and
#             hours hold as many profiles as the whole day's would)
#    The sample's minute rollups, repeated a span earlier each time to
#    fill a day (what is kept of them), and its hour rollups, repeated to
#    fill 400 days (ppprof.rollup_retention), are copied each into a table
#    of their own with performance_rollups' key (the hours' dimension rows
#    for 7 days only, ppprof.horizon, as pp_rollup() keeps them), vacuumed, and measured
#    with pg_total_relation_size (heap, TOAST and the key's index): the
#    steady state of the table at that rate, built from real rollups.
#    Per bucket (one minute or hour, all its rows) = size / buckets; a day
#    of minute rollups = 1,440 minute buckets, a day of hour rollups = 24
#    hour buckets.  The 'p' rows' calls are checked to add up to the
#    profiles loaded in their buckets.
#
# Output: markdown tables on stdout.  Nothing here asserts a timing; the
# script fails only when a run or a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	SECONDS_PER_RUN=${BENCH_SECONDS:-2}
	ROUNDS=${BENCH_ROUNDS:-1}
	DAY_N=${BENCH_DAY_PROFILES:-2000}
	DENSE_PER_DAY=${BENCH_DENSE_PER_DAY:-20000}
	DENSE_HOURS=${BENCH_DENSE_HOURS:-1}
	MODE=smoke
else
	SECONDS_PER_RUN=${BENCH_SECONDS:-12}
	ROUNDS=${BENCH_ROUNDS:-5}
	DAY_N=${BENCH_DAY_PROFILES:-100000}
	DENSE_PER_DAY=${BENCH_DENSE_PER_DAY:-1000000}
	DENSE_HOURS=${BENCH_DENSE_HOURS:-2}
	MODE=full
fi
CLIENTS_LIST=${BENCH_CLIENTS:-1 2}
NPROFILES=1000
PORT=5492	# only names the socket file in our own directory; no TCP
. bench/lib.sh

for v in SECONDS_PER_RUN ROUNDS DAY_N DENSE_PER_DAY DENSE_HOURS; do
	posint "$v" "${!v}"
done
increasing BENCH_CLIENTS "$CLIENTS_LIST"
[ "$DENSE_HOURS" -le 23 ] || { echo "bench: BENCH_DENSE_HOURS must be at most 23 (minute rollups are kept a day)" >&2; exit 2; }
DENSE_N=$((DENSE_PER_DAY * DENSE_HOURS / 24))
posint "BENCH_DENSE_PER_DAY × BENCH_DENSE_HOURS / 24" "$DENSE_N"

pp_install_deps
pp_build_install

bench_tmp ppprof-bench-scaling
T_START=$(date +%s)
LOAD_START=$(loadavg)

bench_initdb bench/scaling.sh
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'ppprof'
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB
EOF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench

psql_q <<EOF >/dev/null
CREATE EXTENSION ppprof;
CREATE TABLE plain_profiles (LIKE performance_profiles INCLUDING DEFAULTS INCLUDING INDEXES);
ALTER TABLE plain_profiles DROP COLUMN ppprof_analyzed, DROP COLUMN ppprof_rejected;
EOF
cmp -s ppprof.so "$PKGLIB/ppprof.so" ||
	{ echo "bench: $PKGLIB/ppprof.so was replaced during CREATE EXTENSION; run again" >&2; exit 1; }
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <<EOF >/dev/null
CREATE TABLE bench_src (id int PRIMARY KEY, query_id text NOT NULL, profile text NOT NULL, total_ms float8 NOT NULL);
INSERT INTO bench_src
SELECT i, 'q-' || i, p::text, (p->>'duration_ms')::float8
  FROM generate_series(1, $NPROFILES) AS i, LATERAL ppgen.profile(i) AS p;
VACUUM ANALYZE bench_src;
EOF
for t in plain_profiles performance_profiles; do
	cat >"$TMP/$t.sql" <<EOF
\set id random(1, $NPROFILES)
INSERT INTO $t (query_id, profile_data, total_duration_ms)
SELECT query_id, profile::jsonb, total_ms FROM bench_src WHERE id = :id;
EOF
done
chmod 644 "$TMP"/*.sql

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT (modified)"; fi
echo "## bench/scaling.sh ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT"
echo
echo "$(nproc) CPUs, $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM," \
	"PostgreSQL $(psql_q -At -c 'SHOW server_version'); load average at the start: $LOAD_START"
echo

# --- 1. shared memory at the defaults -------------------------------------------------------
info() { psql_q -At -c "SELECT pp_info()->>'$1'"; }
SHMEM=$(info shared_memory_bytes)
SKETCH=$(info sketch_memory_bytes)
MIN_MAX=$(info minute_buckets_max)
HOUR_MAX=$(info hour_buckets_max)
[ "$(info preloaded)" = true ] && [ -n "$SHMEM" ] ||
	{ echo "bench: pp_info() does not show ppprof preloaded" >&2; exit 1; }

# --- 2. ingest ------------------------------------------------------------------------------
# run_pgbench TABLE CLIENTS -> sets TPS NTX
run_pgbench() {
	local out="$TMP/pgbench.out"
	if ! pp_as_pg pgbench -h "$SOCK" -p "$PORT" -U postgres -n -M prepared -f "$TMP/$1.sql" \
		-c "$2" -j "$2" -T "$SECONDS_PER_RUN" bench >"$out" 2>&1; then
		cat "$out" >&2
		exit 1
	fi
	TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | tail -1)
	NTX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	if [ -z "$TPS" ] || [ -z "$NTX" ] || [ "$NTX" = 0 ]; then
		echo "bench: pgbench into $1 failed or could not be parsed:" >&2
		cat "$out" >&2
		exit 1
	fi
}
table_of() { case $1 in plain) echo plain_profiles ;; ppprof) echo performance_profiles ;; esac; }
declare -A V RR BYTES
LOAD_INGEST=$(loadavg)
for ((r = 1; r <= ROUNDS; r++)); do
	for c in $CLIENTS_LIST; do
		if ((r % 2)); then order="plain ppprof"; else order="ppprof plain"; fi
		for cfg in $order; do
			t=$(table_of "$cfg")
			psql_q -c "TRUNCATE plain_profiles, performance_profiles" -c "CHECKPOINT" >/dev/null
			run_pgbench "$t" "$c"
			set -- $(psql_q -At -F ' ' -c "SELECT count(*), pg_total_relation_size('$t') FROM $t")
			[ "$1" = "$NTX" ] || { echo "bench: $t has $1 rows after $NTX transactions" >&2; exit 1; }
			BYTES[$cfg]=$(($2 / $1))
			if [ "$cfg" = ppprof ]; then
				n=$(psql_q -At -c "SELECT count(*) FROM performance_profiles WHERE NOT ppprof_analyzed")
				[ "$n" = 0 ] || { echo "bench: $n rows of performance_profiles were not analysed" >&2; exit 1; }
			fi
			V[$cfg $c]="${V[$cfg $c]:-} $TPS"
			eval "ROUND_$cfg=$TPS"
			echo "ingest round $r, $c client(s), $cfg: $TPS profiles/s (load $(load1))" >&2
		done
		RR[$c]="${RR[$c]:-} $(awk -v a="$ROUND_plain" -v b="$ROUND_ppprof" 'BEGIN {printf "%.4f", b / a}')"
	done
done
psql_q -c "TRUNCATE plain_profiles, performance_profiles" >/dev/null

echo "### Ingest: one INSERT of a 10-node profile per transaction (pgbench -M prepared, -T $SECONDS_PER_RUN, $ROUNDS round(s))"
echo
echo "Load average at the start of the part: $LOAD_INGEST."
echo
echo "| clients | plain table, profiles/s | ppprof, profiles/s | ppprof / plain (median of per-round ratios) | ppprof per day at that rate |"
echo "|---:|---:|---:|---:|---:|"
for c in $CLIENTS_LIST; do
	awk -v c="$c" -v p="$(median ${V[plain $c]})" -v pr="$(range ${V[plain $c]})" \
		-v q="$(median ${V[ppprof $c]})" -v qr="$(range ${V[ppprof $c]})" -v rr="$(median ${RR[$c]})" \
		'BEGIN {printf "| %d | %.0f (%s) | **%.0f** (%s) | %.3f | %.0f million |\n", c, p, pr, q, qr, rr, q * 86400 / 1e6}'
done
echo
echo "Table size per stored profile (pg_total_relation_size / rows, last run): plain ${BYTES[plain]} bytes, performance_profiles ${BYTES[ppprof]} bytes."
echo

# --- 3. rollups -----------------------------------------------------------------------------
psql_q -c "ALTER SYSTEM SET ppprof.rollup_worker = off" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
[ "$(psql_q -At -c 'SHOW ppprof.rollup_worker')" = off ] ||
	{ echo "bench: ppprof.rollup_worker is still on after pg_reload_conf()" >&2; exit 1; }
# a rollup worker started during the ingest may still be rolling up its
# millions of rows: the timed pp_rollup() would wait for it
for _ in $(seq 1 600); do
	[ "$(psql_q -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ppprof rollup'")" = 0 ] && break
	sleep 1
done
echo "rollup workers still running when the rollups part starts: $(psql_q -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ppprof rollup'")" >&2

# rollup_sample LABEL N SPAN_HOURS: prints one row of the result table, and
# a line on the whole table and the shared memory into $TMP/notes
rollup_sample() {
	local label=$1 n=$2 hours=$3 t_end out
	psql_q -c "TRUNCATE performance_profiles" >/dev/null
	# blocks of the sketches that TRUNCATE let go stay counted as used until
	# a sweep reclaims them: the sample's own are the growth from here
	sketch0=$(psql_q -At -c "SELECT pp_info()->>'sketch_memory_used_bytes'")
	t_end=$(psql_q -At -c "SELECT date_trunc('hour', now())")
	psql_q -At -c "SELECT ppgen.load($n, interval '$hours hours', '$t_end')" >/dev/null
	# only the buckets of the sample: pp_rollup() also writes the empty
	# minutes between its end and now
	out=$(psql_q -At -F ' ' <<SQL
SET client_min_messages = warning;
CREATE TEMP TABLE t0 AS SELECT clock_timestamp() AS t;
SELECT pp_rollup() AS written \gset
SELECT extract(epoch FROM clock_timestamp() - t) * 1000 AS ms FROM t0 \gset
DROP TABLE IF EXISTS r_minute, r_hour;
-- the steady state, from the sample's rows: a day of minute rollups and
-- 400 days of hour rollups, the sample's buckets repeated a span earlier
-- each time (its last $hours hours hold what every span of the day holds)
CREATE TABLE r_minute (LIKE performance_rollups INCLUDING INDEXES);
CREATE TABLE r_hour (LIKE performance_rollups INCLUDING INDEXES);
INSERT INTO r_minute
SELECT r.width, r.bucket_start - k * interval '$hours hours', r.kind, r.name, r.data, r.written_at
  FROM performance_rollups r, generate_series(0, 24 / $hours) AS k
 WHERE r.width = 'minute' AND r.bucket_start < '$t_end'
   AND r.bucket_start >= timestamptz '$t_end' - interval '$hours hours'
   AND r.bucket_start - k * interval '$hours hours' >= timestamptz '$t_end' - interval '1 day';
INSERT INTO r_hour
SELECT r.width, r.bucket_start - k * interval '$hours hours', r.kind, r.name, r.data, r.written_at
  FROM performance_rollups r, generate_series(0, 9600 / $hours) AS k
 WHERE r.width = 'hour' AND r.bucket_start < '$t_end'
   AND r.bucket_start >= timestamptz '$t_end' - interval '$hours hours'
   AND r.bucket_start - k * interval '$hours hours' >= timestamptz '$t_end' - interval '400 days'
   -- dimension values are kept as long as ppprof.horizon (7 days) and an hour
   AND (r.kind <> 'd' OR r.bucket_start - k * interval '$hours hours' >=
                         timestamptz '$t_end' - interval '7 days 1 hour');
VACUUM ANALYZE r_minute, r_hour;
-- the profiles of every bucket written are its 'p' row's calls
SELECT (SELECT count(*) FROM performance_rollups r
          WHERE r.kind = 'p'
            AND (pp_rollup_contents(r.data)->>'calls')::bigint IS DISTINCT FROM
                (SELECT count(*) FROM performance_profiles p
                  WHERE p.created_at >= r.bucket_start
                    AND p.created_at < r.bucket_start + CASE r.width WHEN 'minute' THEN interval '1 minute'
                                                                     WHEN 'hour' THEN interval '1 hour'
                                                                     ELSE interval '1 day' END)),
       :written,
       round(:ms),
       (SELECT count(DISTINCT bucket_start) FROM r_minute),
       (SELECT count(DISTINCT bucket_start) FROM r_hour),
       (SELECT count(*) FROM r_minute),
       (SELECT count(*) FROM r_hour),
       (SELECT round(avg(pg_column_size(data))) FROM r_minute WHERE kind = 'o'),
       (SELECT round(avg(pg_column_size(data))) FROM r_hour WHERE kind = 'o'),
       pg_total_relation_size('r_minute'),
       pg_total_relation_size('r_hour'),
       pg_total_relation_size('performance_rollups'),
       (SELECT count(*) FROM performance_profiles),
       pp_info()->>'minute_buckets', pp_info()->>'hour_buckets',
       pp_info()->>'sketch_memory_used_bytes',
       (SELECT count(*) FROM performance_rollups),
       coalesce(nullif(pp_info()->>'degradation', ''), 'none');
SQL
)
	set -- $(tail -1 <<<"$out")
	[ "$#" -ge 18 ] || { echo "bench: rollups of $label: unexpected output: $out" >&2; exit 1; }
	[ "$1" = 0 ] || { echo "bench: rollups of $label: $1 'p' rows whose calls differ from the table" >&2; exit 1; }
	[ "${13}" = "$n" ] || { echo "bench: rollups of $label: ${13} profiles loaded, not $n" >&2; exit 1; }
	[ "$4" -gt 0 ] && [ "$5" -gt 0 ] || { echo "bench: rollups of $label: no minute ($4) or hour ($5) bucket written" >&2; exit 1; }
	echo "rollups $label: $2 rows written in $3 ms; minute buckets $4 ($6 rows, ${10} bytes), hour buckets $5 ($7 rows, ${11} bytes); table ${12} bytes (load $(load1))" >&2
	echo "- $label: performance_rollups after pp_rollup(): ${12} bytes, ${17} rows (pg_total_relation_size; with the empty minutes up to now); shared memory after the load: ${14} minute buckets, ${15} hour buckets, $(awk -v b="${16}" -v b0="$sketch0" 'BEGIN {printf "%.1f MB of sketch memory taken by the sample (%.1f MB in use)", (b - b0) / 1e6, b / 1e6}'), degradation: ${*:18}" >>"$TMP/notes"
	awk -v l="$label" -v n="$n" -v h="$hours" -v ms="$3" -v mb="$4" -v hb="$5" -v mr="$6" -v hr="$7" \
		-v mo="$8" -v ho="$9" -v ms_b="${10}" -v hs_b="${11}" 'BEGIN {
		pm = ms_b / mb; ph = hs_b / hb
		printf "| %s | %d over %d h | %.1f s | %.1f, %.1f | %.0f B, %.0f B | %.0f B | %.0f B | **%.1f MB** (%d) | **%.2f MB** | **%.0f MB** (%d) |\n",
			l, n, h, ms / 1000, mr / mb, hr / hb, mo, ho, pm, ph, pm * 1440 / 1e6, mb, ph * 24 / 1e6, hs_b / 1e6, hb }'
}
: >"$TMP/notes"
LOAD_ROLLUP=$(loadavg)
ROW_DAY=$(rollup_sample "$DAY_N a day" "$DAY_N" 24)
ROW_DENSE=$(rollup_sample "$DENSE_PER_DAY a day" "$DENSE_N" "$DENSE_HOURS")

echo "### Rollups: size per day (pp_rollup() once after the load, ppprof.rollup_worker off)"
echo
echo "Load average at the start of the part: $LOAD_ROLLUP. Each sample ends at the start of the"
echo "current hour; only its buckets are measured. Its minute rows, repeated a sample span earlier"
echo "each time to fill a day, and its hour rows, repeated to fill 400 days, are copied into tables"
echo "of their own with performance_rollups' key; sizes are their pg_total_relation_size (heap, TOAST,"
echo "the key's index). A bucket is one minute or one hour, all its rows (the profiles', one per"
echo "operation, one per call path, and one per value of a live dimension and operation, which hour"
echo "rollups keep for ppprof.horizon, 7 days, only); per bucket = table size / buckets, so the hour"
echo "figures are averages over the 400 days. Day rollups (a row per operation and call path a day,"
echo "kept as long as the hours) add about 1/24 of the hours' size without dimension rows."
echo
echo "| rate | loaded | pp_rollup() | rows per bucket (minute, hour) | an operation's data (minute, hour) | per minute bucket | per hour bucket | a day of minute rollups, kept a day (buckets) | a day of hour rollups | 400 days of hour rollups (buckets) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "$ROW_DAY"
echo "$ROW_DENSE"
echo
cat "$TMP/notes"
echo

echo "### Shared memory at the defaults (pp_info() of the fresh server)"
echo
echo "| shared_memory_bytes | sketch_memory_bytes | minute_buckets_max | hour_buckets_max |"
echo "|---:|---:|---:|---:|"
awk -v s="$SHMEM" -v k="$SKETCH" -v m="$MIN_MAX" -v h="$HOUR_MAX" \
	'BEGIN {printf "| %d (%.1f MiB) | %d | %d | %d |\n", s, s / 1048576, k, m, h}'
echo
if cmp -s ppprof.so "$PKGLIB/ppprof.so"; then SO_NOTE=; else
	SO_NOTE=" (note: $PKGLIB/ppprof.so was replaced by another build during the run; the server kept the one it started with)"
fi
echo "Load average at the end: $(loadavg); run took $(($(date +%s) - T_START)) s.$SO_NOTE"
