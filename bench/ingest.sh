#!/usr/bin/env bash
# bench/ingest.sh -- ingest benchmark: INSERT of one realistic 10-node RAG
# profile into performance_profiles (ppprof's BEFORE INSERT trigger validates
# and analyses it) versus into plain_profiles, an identical table without the
# trigger; with ppprof.enabled on and off, at several client counts; batches
# of 100 profiles (pp_ingest_batch against COPY); ppprof's overhead on a
# workload that does not use it (pgbench's TPC-B-like, with and without
# ppprof in shared_preload_libraries); and a backend's peak memory for one
# 10,000-node profile.  What "make bench" and "make bench-smoke" run.
#
#   bash bench/ingest.sh                   default: 3 rounds of 20 s per run
#   BENCH_SECONDS=10 BENCH_CLIENTS="1 4" bash bench/ingest.sh
#   BENCH_SMOKE=1 bash bench/ingest.sh     2 s (idle part 1 s), 1 round: proves the script works
#
# Environment:
#   BENCH_SECONDS        duration of each pgbench run (default 20; smoke 2)
#   BENCH_ROUNDS         rounds; the configurations alternate within a round (default 3; smoke 1)
#   BENCH_CLIENTS        client counts of the INSERT part; pgbench -c N -j N (default "1 2 4"; smoke "1 4")
#   BENCH_PROFILES       distinct generated profiles to pick from (default 1000)
#   BENCH_PARTS          which parts run, in this order (default "insert batch bulk memory idle"):
#                        insert  one INSERT per transaction: plain, plain_analysed, ppprof_off, ppprof
#                        batch   BENCH_BATCH profiles per transaction: COPY into plain_profiles,
#                                COPY into performance_profiles, pp_ingest_batch (1 client)
#                        bulk    single-backend INSERT ... SELECT cross-check
#                        memory  a backend's peak memory for one BENCH_BIG_NODES-node profile
#                        idle    pgbench's TPC-B-like workload, ppprof preloaded or not
#   BENCH_BATCH          profiles per batch (default 100)
#   BENCH_BATCH_CLIENTS  clients of the batch part (default 1)
#   BENCH_BIG_NODES      nodes of the memory part's profile (default 10000, ppprof.max_nodes)
#   BENCH_IDLE_SCALE     pgbench -i scale of the idle part (default 10; smoke 1)
#   BENCH_IDLE_CLIENTS   clients of the idle part (default 2)
#   BENCH_PLOT_DIR       where ingest-throughput.png goes (default docs/img; smoke bench/out)
#
# Method.  A throwaway cluster (temp dir, Unix socket only, no TCP) with
# shared_preload_libraries = 'ppprof', synchronous_commit = off and fsync on;
# the script checks that the server runs the ppprof.so it just built (another
# session may install its own build concurrently: then it installs again and
# restarts, as bench/stats.sh does).  ppgen.profile(i)
# (test/gen/rag_profiles.sql) fills a helper table bench_src with
# BENCH_PROFILES distinct profiles stored as JSON *text*.
#
# Insert part.  Every configuration runs the same statement but for the table:
#
#   \set id random(1, N)
#   INSERT INTO <table> (query_id, profile_data, total_duration_ms)
#   SELECT query_id, profile::jsonb, total_ms FROM bench_src WHERE id = :id;
#
#   plain       into plain_profiles (performance_profiles' columns, no trigger)
#   plain_analysed
#               into plain_profiles, with the two analysis columns written by
#               the client as well, as the seed application (which analysed
#               each profile itself) writes them: what a user who moves that
#               analysis into ppprof stops paying for.  The values are the
#               ones ppprof computes for the same profile (bench_src keeps
#               them as JSON text), so both rows store the same bytes.
#   ppprof_off  into performance_profiles with PGOPTIONS='-c ppprof.enabled=off'
#               for the pgbench connections: the triggers fire and return at once
#   ppprof      into performance_profiles, everything on (validation, analysis
#               columns, statistics)
#
# so each transaction does one primary-key lookup in a 1000-row, fully cached
# table and parses the JSON text into jsonb, as the server does for a profile
# that a client sends as a parameter.  The client supplies total_duration_ms
# (NOT NULL) because an application writing a plain table must.  A one-off
# reference run per client count of the lookup and the cast alone (a SELECT)
# shows how much of a transaction they take.  Within a round, for each client
# count, the configurations run one after the other (plain, plain_analysed,
# ppprof_off, ppprof), so that machine noise hits them alike; before each run the tables
# are truncated and a CHECKPOINT is taken, and checkpoint_timeout /
# max_wal_size are large enough that no checkpoint falls inside a run.
# pgbench runs with -M prepared.
#
# Batch part.  BENCH_BATCH profiles (bench_src ids 1..BENCH_BATCH) per
# transaction, the same profiles each time: copy_plain is a server-side
# COPY plain_profiles (query_id, profile_data, total_duration_ms) FROM a CSV
# file; copy_ppprof the same COPY into performance_profiles (the trigger runs
# per row); batch_ppprof is SELECT pp_ingest_batch(batch::jsonb) FROM
# bench_batch, the same profiles as one JSON array stored as text;
# jsonl_ppprof is SELECT pp_ingest_jsonl(lines) FROM bench_batch, the same
# profiles one per line.
# Throughput is profiles per second (transactions per second x BENCH_BATCH).
#
# Bulk part.  One INSERT ... SELECT of 20 x BENCH_PROFILES rows in one
# backend (plain, ppprof_off, ppprof, alternating): the per-row difference
# is the trigger's own cost without client, round trip or commit.
#
# Memory part.  One profile of BENCH_BIG_NODES nodes (a root, 1/9 of the
# nodes as children, 8 leaves under each), in a fresh backend per
# measurement: one 10-node INSERT to warm the caches, then the big INSERT
# into plain_profiles or performance_profiles; VmHWM (peak resident set)
# from /proc/<backend>/status before and after, read in the same session with
# pg_read_file('/proc/self/status').  Alternating, BENCH_ROUNDS times.
#
# Idle part.  A second database, pgbench -i -s BENCH_IDLE_SCALE, no
# extension created in it; pgbench -c BENCH_IDLE_CLIENTS (TPC-B-like builtin)
# after a restart with shared_preload_libraries = '' or 'ppprof' (in an
# included file), alternating.
#
# Output: markdown tables on stdout, bench/out/ingest-<timestamp>.csv (every
# run) and ingest-<timestamp>-summary.csv (medians), and a PNG plot (gnuplot)
# of the insert and batch throughput in BENCH_PLOT_DIR.  Nothing here asserts
# a timing; the script fails only when a run or a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	SECONDS_PER_RUN=${BENCH_SECONDS:-2}
	IDLE_SECONDS=${BENCH_SECONDS:-1}
	ROUNDS=${BENCH_ROUNDS:-1}
	CLIENTS_LIST=${BENCH_CLIENTS:-1 4}
	IDLE_SCALE=${BENCH_IDLE_SCALE:-1}
	PLOT_DIR=${BENCH_PLOT_DIR:-bench/out}
	MODE=smoke
else
	SECONDS_PER_RUN=${BENCH_SECONDS:-20}
	IDLE_SECONDS=$SECONDS_PER_RUN
	ROUNDS=${BENCH_ROUNDS:-3}
	CLIENTS_LIST=${BENCH_CLIENTS:-1 2 4}
	IDLE_SCALE=${BENCH_IDLE_SCALE:-10}
	PLOT_DIR=${BENCH_PLOT_DIR:-docs/img}
	MODE=full
fi
NPROFILES=${BENCH_PROFILES:-1000}
PARTS=${BENCH_PARTS:-insert batch bulk memory idle}
BATCH=${BENCH_BATCH:-100}
BATCH_CLIENTS=${BENCH_BATCH_CLIENTS:-1}
BIG_NODES=${BENCH_BIG_NODES:-10000}
IDLE_CLIENTS=${BENCH_IDLE_CLIENTS:-2}
PORT=5499	# only names the socket file in our own directory; no TCP
CONFIGS="plain ppprof_off ppprof"	# bulk part
INSERT_CONFIGS="plain plain_analysed ppprof_off ppprof"
BATCH_CONFIGS="copy_plain copy_ppprof batch_ppprof jsonl_ppprof"
. bench/lib.sh	# its helpers check the settings below

for v in SECONDS_PER_RUN IDLE_SECONDS ROUNDS NPROFILES BATCH BATCH_CLIENTS BIG_NODES IDLE_SCALE IDLE_CLIENTS; do
	posint "$v" "${!v}"
done
for c in $CLIENTS_LIST; do posint BENCH_CLIENTS "$c"; done
[ -n "$CLIENTS_LIST" ] || { echo "bench: BENCH_CLIENTS is empty" >&2; exit 2; }
for p in $PARTS; do
	case $p in insert | batch | bulk | memory | idle) ;; *) echo "bench: unknown part '$p' in BENCH_PARTS" >&2; exit 2 ;; esac
done
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
[ "$BATCH" -le "$NPROFILES" ] || { echo "bench: BENCH_BATCH ($BATCH) exceeds BENCH_PROFILES ($NPROFILES)" >&2; exit 2; }
[ "$BIG_NODES" -ge 10 ] || { echo "bench: BENCH_BIG_NODES must be at least 10" >&2; exit 2; }

pp_install_deps
command -v gnuplot >/dev/null || { echo "bench: gnuplot not found (package gnuplot-nox)" >&2; exit 1; }
pp_build_install

bench_tmp ppprof-bench

LOAD_START=$(loadavg)
T_START=$(date +%s)

# --- cluster ----------------------------------------------------------------
bench_initdb bench/ingest.sh
cat >>"$DATA/postgresql.conf" <<EOF
shared_preload_libraries = 'ppprof'
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB
# the idle part switches shared_preload_libraries here
include_if_exists = 'preload.conf'
EOF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench

# --- machine ----------------------------------------------------------------
CPU_MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=unknown
NPROC=$(nproc)
MEM=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
PGVER=$(psql_q -At -c "SHOW server_version")
KERNEL=$(uname -sr)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT (modified)"; fi

# --- schema and data ----------------------------------------------------------
psql_q <<EOF
CREATE EXTENSION ppprof;
-- performance_profiles as the install script creates it, without the trigger
CREATE TABLE plain_profiles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    query_id text NOT NULL,
    profile_data jsonb NOT NULL,
    total_duration_ms float NOT NULL,
    bottleneck_operations jsonb DEFAULT '[]',
    optimization_suggestions jsonb DEFAULT '[]',
    created_at timestamptz DEFAULT now()
);
CREATE INDEX plain_profiles_created_at_idx ON plain_profiles (created_at);
EOF
cmp -s ppprof.so "$PKGLIB/ppprof.so" ||
	{ echo "bench: $PKGLIB/ppprof.so was replaced during CREATE EXTENSION; run again" >&2; exit 1; }
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <<EOF
CREATE TABLE bench_src (
    id int PRIMARY KEY,
    query_id text NOT NULL,
    profile text NOT NULL,
    total_ms float8 NOT NULL,
    bottlenecks text,
    suggestions text
);
INSERT INTO bench_src
SELECT i, 'q-' || i, p::text, (p->>'duration_ms')::float8
  FROM generate_series(1, $NPROFILES) AS i, LATERAL ppgen.profile(i) AS p;
-- the analysis the client of plain_analysed writes: ppprof's own, as text
INSERT INTO performance_profiles (query_id, profile_data, total_duration_ms)
SELECT query_id, profile::jsonb, total_ms FROM bench_src;
UPDATE bench_src s SET bottlenecks = p.bottleneck_operations::text,
                       suggestions = p.optimization_suggestions::text
  FROM performance_profiles p WHERE p.query_id = s.query_id;
TRUNCATE performance_profiles;
VACUUM ANALYZE bench_src;
-- the batch part: profiles 1..$BATCH as one JSON array (text), as JSON Lines,
-- and as CSV for COPY
CREATE TABLE bench_batch AS
SELECT json_agg(profile::json ORDER BY id)::text AS batch,
       string_agg(profile, E'\n' ORDER BY id) AS lines
  FROM bench_src WHERE id <= $BATCH;
COPY (SELECT query_id, profile, total_ms FROM bench_src WHERE id <= $BATCH ORDER BY id)
  TO '$TMP/batch.csv' (FORMAT csv);
-- the memory part: one profile of $BIG_NODES nodes: a root, (n - 1) / 9 children
-- with 8 leaves each, the remaining nodes as leaves of the root
CREATE TABLE big_src AS
WITH p AS (SELECT ($BIG_NODES - 1) / 9 AS nc, ($BIG_NODES - 1) % 9 AS extra, 1767225600.0::float8 AS t0),
names AS (SELECT ARRAY['cache_lookup', 'embed_query', 'vector_search', 'keyword_search', 'reranking',
                       'database_query', 'openai_chat', 'tool_call'] AS n),
kids AS (
  SELECT c, ppgen.node('retrieval', t0 + c * 0.01, 9.0,
                       (SELECT jsonb_agg(ppgen.node(n[k], t0 + c * 0.01 + (k - 1) * 0.001, 1.0,
                                                    '[]', jsonb_build_object('k', k)) ORDER BY k)
                          FROM generate_series(1, 8) k)) AS node
    FROM p, names, generate_series(0, nc - 1) c
  UNION ALL
  SELECT nc + e, ppgen.node('llm_generation', t0 + (nc + e) * 0.01, 9.0)
    FROM p, generate_series(0, extra - 1) e)
SELECT 'big' AS query_id, ppgen.node('rag_pipeline', t0, (nc + extra) * 10.0,
                                     (SELECT jsonb_agg(node ORDER BY c) FROM kids),
                                     jsonb_build_object('query_id', 'big'))::text AS profile,
       (nc + extra) * 10.0 AS total_ms
  FROM p;
-- Single-backend cross-check: one INSERT ... SELECT of every profile reps
-- times; returns microseconds per row.
CREATE FUNCTION bench_bulk(t regclass, reps int) RETURNS float8 LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz := clock_timestamp();
    n bigint;
BEGIN
    EXECUTE format('INSERT INTO %s (query_id, profile_data, total_duration_ms)
                    SELECT query_id, profile::jsonb, total_ms
                      FROM generate_series(1, %s), bench_src', t, reps);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END;
\$\$;
EOF
BIG_CHECK=$(psql_q -At -F ' ' -c "SELECT (SELECT count(*) FROM pp_analyze_profile(profile::jsonb)), octet_length(profile)
                                    FROM big_src")
set -- $BIG_CHECK
[ "$1" = "$BIG_NODES" ] || { echo "bench: the memory part's profile has $1 nodes, not $BIG_NODES" >&2; exit 1; }
BIG_BYTES=$2
# plain_profiles must have the seed's columns, in the same order, as
# performance_profiles has them; columns that ppprof itself adds to
# performance_profiles (named ppprof_*) are part of what is measured.
cols() {
	psql_q -At -c "SELECT string_agg(format('%s %s %s %s', attname, format_type(atttypid, atttypmod),
	                       attnotnull, pg_get_expr(adbin, adrelid)), ', ' ORDER BY attnum)
	                 FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
	                WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped
	                  AND attname NOT LIKE 'ppprof\\_%'"
}
if [ "$(cols plain_profiles)" != "$(cols performance_profiles)" ]; then
	echo "bench: plain_profiles does not match performance_profiles:" >&2
	cols plain_profiles >&2
	cols performance_profiles >&2
	exit 1
fi
PP_COLS=$(psql_q -At -c "SELECT coalesce(string_agg(attname, ', ' ORDER BY attnum), 'none')
                          FROM pg_attribute WHERE attrelid = 'performance_profiles'::regclass
                           AND attnum > 0 AND NOT attisdropped AND attname LIKE 'ppprof\\_%'")
PP_TRIGGERS=$(psql_q -At -c "SELECT string_agg(tgname, ', ' ORDER BY tgname) FROM pg_trigger
                              WHERE tgrelid = 'performance_profiles'::regclass AND NOT tgisinternal")
SRC_BYTES=$(psql_q -At -c "SELECT round(avg(octet_length(profile))) FROM bench_src")
# the client of plain_analysed writes an analysis for every profile, and some
# of them name bottlenecks
set -- $(psql_q -At -F ' ' -c "SELECT count(*) FILTER (WHERE bottlenecks IS NULL OR suggestions IS NULL),
                                     count(*) FILTER (WHERE bottlenecks <> '[]'),
                                     round(avg(octet_length(bottlenecks) + octet_length(suggestions)))
                                FROM bench_src")
if [ "$1" != 0 ] || [ "$2" = 0 ]; then
	echo "bench: bench_src: $1 profiles without an analysis, $2 with bottlenecks" >&2
	exit 1
fi
ANALYSED_SRC="$2 of $NPROFILES"
ANALYSIS_BYTES=$3


# --- pgbench scripts ------------------------------------------------------------
for t in plain_profiles performance_profiles; do
	cat >"$TMP/$t.sql" <<EOF
\set id random(1, $NPROFILES)
INSERT INTO $t (query_id, profile_data, total_duration_ms)
SELECT query_id, profile::jsonb, total_ms FROM bench_src WHERE id = :id;
EOF
done
cat >"$TMP/lookup.sql" <<EOF
\set id random(1, $NPROFILES)
SELECT query_id, profile::jsonb IS NOT NULL, total_ms FROM bench_src WHERE id = :id;
EOF
cat >"$TMP/plain_analysed.sql" <<EOF
\set id random(1, $NPROFILES)
INSERT INTO plain_profiles (query_id, profile_data, total_duration_ms,
                            bottleneck_operations, optimization_suggestions)
SELECT query_id, profile::jsonb, total_ms, bottlenecks::jsonb, suggestions::jsonb
  FROM bench_src WHERE id = :id;
EOF
for t in plain_profiles performance_profiles; do
	echo "COPY $t (query_id, profile_data, total_duration_ms) FROM '$TMP/batch.csv' (FORMAT csv);" >"$TMP/copy_$t.sql"
done
echo "SELECT pp_ingest_batch(batch::jsonb) FROM bench_batch;" >"$TMP/batch_ppprof.sql"
echo "SELECT pp_ingest_jsonl(lines) FROM bench_batch;" >"$TMP/jsonl_ppprof.sql"
chmod 644 "$TMP"/*.sql "$TMP/batch.csv"

# script, table, PGOPTIONS and rows per transaction of a configuration
script_of() {
	case $1 in
	plain) echo plain_profiles ;;
	plain_analysed) echo plain_analysed ;;
	ppprof | ppprof_off) echo performance_profiles ;;
	copy_plain) echo copy_plain_profiles ;;
	copy_ppprof) echo copy_performance_profiles ;;
	batch_ppprof) echo batch_ppprof ;;
	jsonl_ppprof) echo jsonl_ppprof ;;
	esac
}
table_of() { case $1 in plain | plain_analysed | copy_plain) echo plain_profiles ;; *) echo performance_profiles ;; esac; }
options_of() { case $1 in ppprof_off) echo "-c ppprof.enabled=off" ;; *) echo "" ;; esac; }
rows_of() { case $1 in copy_* | batch_* | jsonl_*) echo "$BATCH" ;; *) echo 1 ;; esac; }

# run_pgbench SCRIPT CLIENTS SECONDS [PGOPTIONS [DB [pgbench options]]] -> sets TPS LAT NTX NFAIL
run_pgbench() {
	local out="$TMP/pgbench.out" script=$1 c=$2 s=$3 opts=${4:-} db=${5:-bench}
	shift 5 2>/dev/null || shift $#
	local extra=("$@")
	[ ${#extra[@]} -gt 0 ] || extra=(-n -M prepared -f "$TMP/$script.sql")
	if ! pp_as_pg env PGOPTIONS="$opts" pgbench -h "$SOCK" -p "$PORT" -U postgres \
		-c "$c" -j "$c" -T "$s" "${extra[@]}" "$db" >"$out" 2>&1; then
		cat "$out" >&2
		exit 1
	fi
	TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | tail -1)
	LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out")
	NTX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	NFAIL=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	NFAIL=${NFAIL:-0}
	if [ -z "$TPS" ] || [ -z "$LAT" ] || [ -z "$NTX" ] || [ "$NTX" = 0 ] || [ "$NFAIL" != 0 ]; then
		echo "bench: pgbench run of $script failed or could not be parsed:" >&2
		cat "$out" >&2
		exit 1
	fi
}

reset_tables() {
	psql_q -c "TRUNCATE plain_profiles, performance_profiles" -c "CHECKPOINT"
}

# check_rows CONFIG: every transaction stored its rows, and ppprof's trigger
# analysed them exactly when it was on
check_rows() {
	local cfg=$1 t n want analysed
	t=$(table_of "$cfg")
	want=$((NTX * $(rows_of "$cfg")))
	n=$(psql_q -At -c "SELECT count(*) FROM $t")
	if [ "$n" != "$want" ]; then
		echo "bench: $cfg: $t has $n rows after $NTX transactions (expected $want)" >&2
		exit 1
	fi
	[ "$t" = performance_profiles ] || return 0
	analysed=$(psql_q -At -c "SELECT count(*) FILTER (WHERE bottleneck_operations <> '[]') FROM performance_profiles")
	if [ "$cfg" = ppprof_off ]; then
		if [ "$analysed" != 0 ]; then
			echo "bench: ppprof_off: the trigger filled the analysis columns of $analysed rows (ppprof.enabled not off?)" >&2
			exit 1
		fi
	else
		n=$(psql_q -At -c "SELECT count(*) FROM performance_profiles
		                   WHERE optimization_suggestions = '[]' AND bottleneck_operations <> '[]'")
		if [ "$n" != 0 ] || [ "$analysed" = 0 ]; then
			echo "bench: $cfg: the ppprof trigger did not fill the analysis columns" >&2
			exit 1
		fi
	fi
}

# --- header ---------------------------------------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out "$PLOT_DIR"
if [ "$MODE" = smoke ]; then BASE=bench/out/ingest-smoke-$STAMP; else BASE=bench/out/ingest-$STAMP; fi
CSV=$BASE.csv
SUM_CSV=$BASE-summary.csv
echo "timestamp,mode,part,round,config,clients,seconds,tps,profiles_per_s,latency_avg_ms,transactions,failed,loadavg_1m" >"$CSV"
echo "part,config,clients,rounds,median_profiles_per_s,min_profiles_per_s,max_profiles_per_s,median_latency_ms,ratio_to_baseline,median_round_ratio" >"$SUM_CSV"
csv_row() {	# part round config clients seconds
	echo "$STAMP,$MODE,$1,$2,$3,$4,$5,$TPS,$(awk -v t="$TPS" -v k="$(rows_of "$3")" 'BEGIN {printf "%.1f", t * k}'),$LAT,$NTX,$NFAIL,$(load1)" >>"$CSV"
}

cat <<EOF
## Ingest benchmark ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC')

- machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, $KERNEL
- PostgreSQL: $PGVER; ppprof commit $COMMIT
- settings: shared_preload_libraries = 'ppprof', synchronous_commit = off, fsync = on,
  checkpoint_timeout = 30min, max_wal_size = 8GB, everything else initdb's default
- parts: $PARTS; $ROUNDS round(s) of $SECONDS_PER_RUN s per run, configurations alternating in each round
- profiles: picked at random from $NPROFILES generated 10-node profiles (average $SRC_BYTES bytes of JSON)
- performance_profiles: triggers $PP_TRIGGERS; columns added by ppprof: $PP_COLS
  (plain_profiles has the seed's columns, defaults and created_at index, no trigger)
- plain with the client's analysis: the client also writes bottleneck_operations and
  optimization_suggestions (ppprof's own values for the profile, average $ANALYSIS_BYTES bytes of JSON;
  $ANALYSED_SRC profiles have a bottleneck)
- load average (1, 5, 15 min) at the start: $LOAD_START

EOF

declare -A V LATS	# "part config clients" -> space-separated per-round profiles/s (latency ms)
declare -A RR	# "part config clients" -> per-round ratio to the round's baseline
record() {	# part round config clients baseline_config
	local key="$1 $3 $4" pps base
	pps=$(awk -v t="$TPS" -v k="$(rows_of "$3")" 'BEGIN {printf "%.3f", t * k}')
	V[$key]="${V[$key]:-} $pps"
	LATS[$key]="${LATS[$key]:-} $LAT"
	eval "ROUND_PPS_$3=$pps"
	base=ROUND_PPS_$5
	RR[$key]="${RR[$key]:-} $(awk -v a="${!base}" -v b="$pps" 'BEGIN {printf "%.6f", b / a}')"
}
med_of() { median ${V[$1]}; }
# median over the rounds of (round's value of key $1) / (round's value of key $2)
round_ratios() {
	local -a a=(${V[$1]}) b=(${V[$2]})
	local i out=()
	for i in "${!a[@]}"; do out+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN {printf "%.6f", x / y}')"); done
	median "${out[@]}"
}
summary_row() {	# part config clients baseline_config
	local key="$1 $2 $3" m base
	m=$(med_of "$key")
	base=$(med_of "$1 $4 $3")
	echo "$1,$2,$3,$ROUNDS,$m,$(printf '%s\n' ${V[$key]} | sort -g | head -1),$(printf '%s\n' ${V[$key]} | sort -g | tail -1),$(median ${LATS[$key]}),$(awk -v a="$base" -v b="$m" 'BEGIN {printf "%.4f", b / a}'),$(median ${RR[$key]})" >>"$SUM_CSV"
}

# --- insert part ------------------------------------------------------------------------
if has_part insert; then
	declare -A LOOKUP
	for c in $CLIENTS_LIST; do
		run_pgbench lookup "$c" "$SECONDS_PER_RUN" "" bench
		csv_row insert 0 lookup_only "$c" "$SECONDS_PER_RUN"
		LOOKUP[$c]="$TPS $LAT"
	done
	LOAD_INSERT=$(loadavg)
	for ((r = 1; r <= ROUNDS; r++)); do
		for c in $CLIENTS_LIST; do
			for cfg in $INSERT_CONFIGS; do
				reset_tables >/dev/null
				run_pgbench "$(script_of "$cfg")" "$c" "$SECONDS_PER_RUN" "$(options_of "$cfg")" bench
				check_rows "$cfg"
				csv_row insert "$r" "$cfg" "$c" "$SECONDS_PER_RUN"
				record insert "$r" "$cfg" "$c" plain
				echo "insert round $r, $c client(s), $cfg: $TPS tps (load $(load1))" >&2
			done
		done
	done
	for c in $CLIENTS_LIST; do for cfg in $INSERT_CONFIGS; do summary_row insert "$cfg" "$c" plain; done; done

	echo "### Single-row INSERTs: profiles per second (pgbench -n -M prepared -c N -j N -T $SECONDS_PER_RUN)"
	echo
	echo "Load average at the start of the part: $LOAD_INSERT. Median over $ROUNDS round(s) (range of the rounds)."
	echo
	echo "| clients | plain | plain, analysis written by the client | ppprof, enabled = off | ppprof | off / plain | ppprof / plain | ppprof / plain, median of per-round ratios | ppprof / plain with the client's analysis (median of per-round ratios) | latency plain / plain with analysis / off / ppprof (ms) | lookup + cast alone (tps) |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for c in $CLIENTS_LIST; do
		p=$(med_of "insert plain $c"); a=$(med_of "insert plain_analysed $c"); o=$(med_of "insert ppprof_off $c"); f=$(med_of "insert ppprof $c")
		set -- ${LOOKUP[$c]}
		awk -v c="$c" -v p="$p" -v a="$a" -v o="$o" -v f="$f" -v pr="$(range ${V[insert plain $c]})" -v ar="$(range ${V[insert plain_analysed $c]})" \
			-v or="$(range ${V[insert ppprof_off $c]})" -v fr="$(range ${V[insert ppprof $c]})" -v rr="$(median ${RR[insert ppprof $c]})" \
			-v ra="$(round_ratios "insert ppprof $c" "insert plain_analysed $c")" \
			-v lp="$(median ${LATS[insert plain $c]})" -v la="$(median ${LATS[insert plain_analysed $c]})" \
			-v lo="$(median ${LATS[insert ppprof_off $c]})" -v lf="$(median ${LATS[insert ppprof $c]})" \
			-v lt="$1" 'BEGIN {printf "| %d | **%.0f** (%s) | **%.0f** (%s) | **%.0f** (%s) | **%.0f** (%s) | %.3f | **%.3f** | %.3f | **%.3f** (%.3f) | %.3f / %.3f / %.3f / %.3f | %.0f |\n",
				c, p, pr, a, ar, o, or, f, fr, o / p, f / p, rr, f / a, ra, lp, la, lo, lf, lt}'
	done
	echo
	echo "Per round (profiles per second; the four configurations of a row ran one after the other):"
	echo
	echo "| round | clients | plain | plain, client's analysis | ppprof_off | ppprof | ppprof / plain | ppprof / plain with the client's analysis |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	awk -F, '$3 == "insert" && $4 > 0 { v[$4 "," $6 "," $5] = $9; if (!(($4 "," $6) in seen)) { seen[$4 "," $6] = 1; order[n++] = $4 "," $6 } }
		END { for (i = 0; i < n; i++) { split(order[i], k, ",")
			printf "| %d | %d | %.0f | %.0f | %.0f | %.0f | %.3f | %.3f |\n", k[1], k[2], v[order[i] ",plain"], v[order[i] ",plain_analysed"],
				v[order[i] ",ppprof_off"], v[order[i] ",ppprof"],
				v[order[i] ",ppprof"] / v[order[i] ",plain"], v[order[i] ",ppprof"] / v[order[i] ",plain_analysed"] } }' "$CSV"
	echo
fi

# --- batch part ---------------------------------------------------------------------------
if has_part batch; then
	LOAD_BATCH=$(loadavg)
	for ((r = 1; r <= ROUNDS; r++)); do
		for cfg in $BATCH_CONFIGS; do
			reset_tables >/dev/null
			run_pgbench "$(script_of "$cfg")" "$BATCH_CLIENTS" "$SECONDS_PER_RUN" "" bench
			check_rows "$cfg"
			csv_row batch "$r" "$cfg" "$BATCH_CLIENTS" "$SECONDS_PER_RUN"
			record batch "$r" "$cfg" "$BATCH_CLIENTS" copy_plain
			echo "batch round $r, $cfg: $TPS tps (load $(load1))" >&2
		done
	done
	for cfg in $BATCH_CONFIGS; do summary_row batch "$cfg" "$BATCH_CLIENTS" copy_plain; done
	echo "### Batches of $BATCH profiles per transaction: profiles per second ($BATCH_CLIENTS client(s), -T $SECONDS_PER_RUN)"
	echo
	echo "Load average at the start of the part: $LOAD_BATCH. The same $BATCH profiles in every transaction."
	echo
	echo "| configuration | profiles/s, median (range) | / COPY into plain_profiles | median of per-round ratios | latency per batch (ms) |"
	echo "|---|---:|---:|---:|---:|"
	for cfg in $BATCH_CONFIGS; do
		case $cfg in
		copy_plain) lbl="COPY into plain_profiles" ;;
		copy_ppprof) lbl="COPY into performance_profiles (trigger per row)" ;;
		batch_ppprof) lbl="pp_ingest_batch (one JSON array)" ;;
		jsonl_ppprof) lbl="pp_ingest_jsonl (one profile per line)" ;;
		esac
		awk -v l="$lbl" -v m="$(med_of "batch $cfg $BATCH_CLIENTS")" -v b="$(med_of "batch copy_plain $BATCH_CLIENTS")" \
			-v rg="$(range ${V[batch $cfg $BATCH_CLIENTS]})" -v rr="$(median ${RR[batch $cfg $BATCH_CLIENTS]})" \
			-v lat="$(median ${LATS[batch $cfg $BATCH_CLIENTS]})" \
			'BEGIN {printf "| %s | **%.0f** (%s) | **%.3f** | %.3f | %.2f |\n", l, m, rg, m / b, rr, lat}'
	done
	echo
fi

# --- bulk part: single-backend cross-check ---------------------------------------------------
# The same INSERT, as one statement of BULK_ROWS rows in one backend: no
# client, no round trip, no commit per row, so the per-row difference is the
# trigger's own cost (plus writing its larger row).
if has_part bulk; then
	if [ "$MODE" = smoke ]; then BULK_REPS=2; else BULK_REPS=20; fi
	BULK_ROWS=$((BULK_REPS * NPROFILES))
	declare -A BULK
	for ((r = 1; r <= ROUNDS; r++)); do
		for cfg in $CONFIGS; do
			reset_tables >/dev/null
			if [ "$cfg" = ppprof_off ]; then set_off="SET ppprof.enabled = off"; else set_off="SELECT 1"; fi
			us=$(psql_q -At -c "$set_off" -c "SELECT bench_bulk('$(table_of "$cfg")', $BULK_REPS)" | tail -1)
			BULK[$cfg]="${BULK[$cfg]:-} $us"
			echo "$STAMP,$MODE,bulk,$r,$cfg,1,,,$(awk -v u="$us" 'BEGIN {printf "%.1f", 1e6 / u}'),$(awk -v u="$us" 'BEGIN {printf "%.6f", u / 1000}'),$BULK_ROWS,0,$(load1)" >>"$CSV"
			echo "bulk round $r $cfg: $us us/row" >&2
		done
	done
	# stored size of a row, once per profile in each table
	reset_tables >/dev/null
	psql_q -At -c "SELECT bench_bulk('plain_profiles', 1), bench_bulk('performance_profiles', 1)" >/dev/null
	ROWSIZE=$(psql_q -At -F ' ' -c "SELECT (SELECT round(avg(pg_column_size(p.*))) FROM plain_profiles p),
	                                      (SELECT round(avg(pg_column_size(p.*))) FROM performance_profiles p),
	                                      (SELECT round(avg(pg_column_size(p.bottleneck_operations)
	                                                        + pg_column_size(p.optimization_suggestions)))
	                                         FROM performance_profiles p)")
	reset_tables >/dev/null
	echo "### Single backend: one INSERT ... SELECT of $BULK_ROWS profiles per run (µs per row)"
	echo
	echo "| round | plain | ppprof, enabled = off | ppprof | ppprof − plain |"
	echo "|---:|---:|---:|---:|---:|"
	for ((r = 1; r <= ROUNDS; r++)); do
		set -- ${BULK[plain]}; a=${!r}; set -- ${BULK[ppprof_off]}; o=${!r}; set -- ${BULK[ppprof]}; b=${!r}
		awk -v r="$r" -v a="$a" -v o="$o" -v b="$b" 'BEGIN {printf "| %d | %.1f | %.1f | %.1f | %.1f |\n", r, a, o, b, b - a}'
	done
	awk -v a="$(median ${BULK[plain]})" -v o="$(median ${BULK[ppprof_off]})" -v b="$(median ${BULK[ppprof]})" \
		'BEGIN {printf "| **median** | **%.1f** | **%.1f** | **%.1f** | **%.1f** |\n", a, o, b, b - a}'
	echo
	set -- $ROWSIZE
	echo "Average stored row (pg_column_size): plain $1 bytes, ppprof $2 bytes, of which $3 bytes are the two analysis columns."
	echo
fi

# --- memory part: one BIG_NODES-node profile ----------------------------------------------------
if has_part memory; then
	# VmHWM / VmRSS / RssAnon (kB) of the backend itself
	STATUS_SQL="SELECT string_agg(regexp_replace(l, '^(\\w+):\\s+(\\d+) kB', '\\2'), ' ' ORDER BY o)
	              FROM regexp_split_to_table(pg_read_file('/proc/self/status'), '\\n') WITH ORDINALITY AS s(l, o)
	             WHERE l ~ '^(VmHWM|VmRSS|RssAnon):'"
	MEM_CONFIGS="plain_profiles performance_profiles"
	declare -A MEMD MEMSMALL
	MEM_CSV=$BASE-memory.csv
	echo "timestamp,mode,round,table,nodes,vmhwm_fresh_kb,vmhwm_after_10_nodes_kb,vmhwm_after_big_kb,rssanon_after_big_kb,memory_contexts_after_bytes,loadavg_1m" >"$MEM_CSV"
	for ((r = 1; r <= ROUNDS; r++)); do
		for t in $MEM_CONFIGS; do
			reset_tables >/dev/null
			out=$(psql_q -At -c "$STATUS_SQL" \
				-c "INSERT INTO $t (query_id, profile_data, total_duration_ms) SELECT query_id, profile::jsonb, total_ms FROM bench_src WHERE id = 1" \
				-c "$STATUS_SQL" \
				-c "INSERT INTO $t (query_id, profile_data, total_duration_ms) SELECT query_id, profile::jsonb, total_ms FROM big_src" \
				-c "$STATUS_SQL" \
				-c "SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
			# lines: HWM RSS ANON (fresh), (after 10 nodes), (after the big one), contexts after
			read -r h0 _ _ <<<"$(sed -n 1p <<<"$out")"
			read -r h1 _ _ <<<"$(sed -n 2p <<<"$out")"
			read -r h2 _ a2 <<<"$(sed -n 3p <<<"$out")"
			ctx=$(sed -n 4p <<<"$out")
			[ -n "$h2" ] && [ -n "$ctx" ] || { echo "bench: memory part: could not read /proc/self/status: $out" >&2; exit 1; }
			n=$(psql_q -At -c "SELECT count(*) FROM $t WHERE query_id = 'big'")
			[ "$n" = 1 ] || { echo "bench: memory part: the big profile was not stored in $t" >&2; exit 1; }
			MEMD[$t]="${MEMD[$t]:-} $((h2 - h1))"
			MEMSMALL[$t]="${MEMSMALL[$t]:-} $((h1 - h0))"
			echo "$STAMP,$MODE,$r,$t,$BIG_NODES,$h0,$h1,$h2,$a2,$ctx,$(load1)" >>"$MEM_CSV"
			echo "memory round $r $t: VmHWM $h0 -> $h1 -> $h2 kB, RssAnon after $a2 kB, contexts after $ctx bytes" >&2
		done
	done
	echo "### Backend memory for one $BIG_NODES-node profile"
	echo
	echo "One INSERT of a $BIG_NODES-node profile ($BIG_BYTES bytes of JSON text, cast to jsonb) in a fresh"
	echo "backend that first stored one 10-node profile; growth of the backend's peak resident set"
	echo "(VmHWM, /proc/self/status), median of $ROUNDS round(s) (range):"
	echo
	echo "| table | VmHWM growth, the $BIG_NODES-node INSERT (kB) | VmHWM growth, the first 10-node INSERT of the session (kB) |"
	echo "|---|---:|---:|"
	for t in $MEM_CONFIGS; do
		awk -v t="$t" -v m="$(median ${MEMD[$t]})" -v rg="$(range ${MEMD[$t]})" -v s="$(median ${MEMSMALL[$t]})" -v sr="$(range ${MEMSMALL[$t]})" \
			'BEGIN {printf "| %s | **%.0f** (%s) | %.0f (%s) |\n", t, m, rg, s, sr}'
	done
	awk -v a="$(median ${MEMD[plain_profiles]})" -v b="$(median ${MEMD[performance_profiles]})" -v n="$BIG_NODES" \
		'BEGIN {printf "\nExtra peak with ppprof for the %s-node profile (medians): about **%.1f MiB** (%.0f kB).\n\n", n, (b - a) / 1024, b - a}'
	echo "memory,plain_profiles,1,$ROUNDS,$(median ${MEMD[plain_profiles]}),,,,," >>"$SUM_CSV"
	echo "memory,performance_profiles,1,$ROUNDS,$(median ${MEMD[performance_profiles]}),,,,," >>"$SUM_CSV"
fi

# --- idle part: TPC-B-like, ppprof preloaded or not ---------------------------------------------
if has_part idle; then
	pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres tpcb
	pp_as_pg pgbench -h "$SOCK" -p "$PORT" -U postgres -i -q -s "$IDLE_SCALE" tpcb >"$TMP/pgbench-init.out" 2>&1 ||
		{ cat "$TMP/pgbench-init.out" >&2; exit 1; }
	set_preload() {	# '' or 'ppprof'
		stop_server
		echo "shared_preload_libraries = '$1'" >"$DATA/preload.conf"
		chmod 644 "$DATA/preload.conf"
		start_checked
		local got
		got=$(pp_as_pg psql -X -At -h "$SOCK" -p "$PORT" -U postgres -d postgres -c "SHOW shared_preload_libraries")
		[ "$got" = "$1" ] || { echo "bench: shared_preload_libraries is '$got', expected '$1'" >&2; exit 1; }
	}
	LOAD_IDLE=$(loadavg)
	for ((r = 1; r <= ROUNDS; r++)); do
		for cfg in no_preload preload; do
			if [ "$cfg" = preload ]; then set_preload ppprof; else set_preload ''; fi
			# builtin TPC-B-like; pgbench vacuums the tables first (no -n)
			run_pgbench tpcb "$IDLE_CLIENTS" "$IDLE_SECONDS" "" tpcb -M prepared
			csv_row idle "$r" "$cfg" "$IDLE_CLIENTS" "$IDLE_SECONDS"
			record idle "$r" "$cfg" "$IDLE_CLIENTS" no_preload
			echo "idle round $r $cfg: $TPS tps (load $(load1))" >&2
		done
	done
	for cfg in no_preload preload; do summary_row idle "$cfg" "$IDLE_CLIENTS" no_preload; done
	echo "### Idle overhead: pgbench TPC-B-like (-i -s $IDLE_SCALE; -c $IDLE_CLIENTS -j $IDLE_CLIENTS -T $IDLE_SECONDS -M prepared), no extension created"
	echo
	echo "Load average at the start of the part: $LOAD_IDLE. A restart before every run, alternating."
	echo
	echo "| round | shared_preload_libraries = '' (tps) | = 'ppprof' (tps) | ratio |"
	echo "|---:|---:|---:|---:|"
	for ((r = 1; r <= ROUNDS; r++)); do
		set -- ${V[idle no_preload $IDLE_CLIENTS]}; a=${!r}; set -- ${V[idle preload $IDLE_CLIENTS]}; b=${!r}
		awk -v r="$r" -v a="$a" -v b="$b" 'BEGIN {printf "| %d | %.0f | %.0f | %.3f |\n", r, a, b, b / a}'
	done
	awk -v a="$(med_of "idle no_preload $IDLE_CLIENTS")" -v b="$(med_of "idle preload $IDLE_CLIENTS")" -v rr="$(median ${RR[idle preload $IDLE_CLIENTS]})" \
		'BEGIN {printf "| **median** | **%.0f** | **%.0f** | **%.3f** (per-round ratios: %.3f) |\n\n", a, b, b / a, rr}'
fi

# --- plot ------------------------------------------------------------------------------------------
if has_part insert || has_part batch; then
	: >"$TMP/plot.dat"
	# label plain plain_analysed off full copy_ppprof jsonl (profiles/s medians; 0 where a group has
	# no such bar: gnuplot refuses a column with no valid point), one line per group
	if has_part insert; then
		for c in $CLIENTS_LIST; do
			echo "\"INSERT, $c client$([ "$c" = 1 ] || echo s)\" $(med_of "insert plain $c") $(med_of "insert plain_analysed $c") $(med_of "insert ppprof_off $c") $(med_of "insert ppprof $c") 0 0" >>"$TMP/plot.dat"
		done
	fi
	if has_part batch; then
		echo "\"batch of $BATCH, $BATCH_CLIENTS client$([ "$BATCH_CLIENTS" = 1 ] || echo s)\" $(med_of "batch copy_plain $BATCH_CLIENTS") 0 0 $(med_of "batch batch_ppprof $BATCH_CLIENTS") $(med_of "batch copy_ppprof $BATCH_CLIENTS") $(med_of "batch jsonl_ppprof $BATCH_CLIENTS")" >>"$TMP/plot.dat"
	fi
	PNG=$PLOT_DIR/ingest-throughput.png
	gnuplot <<EOF
set terminal pngcairo size 1000,660 font 'sans,11' noenhanced
set output '$PNG'
set title "Ingest throughput, median of $ROUNDS round(s) of $SECONDS_PER_RUN s ($MODE run, $STAMP, $NPROC CPUs, load avg at start $LOAD_START)"
set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.85 border -1
set boxwidth 0.95
set grid ytics
set yrange [0:*]
set ylabel 'profiles per second (higher is better)'
set key outside bottom center horizontal maxrows 2
set xtics nomirror
plot '$TMP/plot.dat' using 2:xtic(1) lc rgb '#7f8c8d' title 'plain table (INSERT) / COPY into plain table (batch)', \
     '' using 3 lc rgb '#d5d8dc' title 'plain table, analysis columns written by the client (INSERT)', \
     '' using 4 lc rgb '#5dade2' title 'ppprof, ppprof.enabled = off', \
     '' using 5 lc rgb '#1f618d' title 'ppprof (INSERT) / pp_ingest_batch (batch)', \
     '' using 6 lc rgb '#a569bd' title 'COPY into performance_profiles (batch)', \
     '' using 7 lc rgb '#27ae60' title 'pp_ingest_jsonl (batch)'
EOF
	echo "Plot: $PNG"
	echo
fi

LOAD_END=$(loadavg)
if cmp -s ppprof.so "$PKGLIB/ppprof.so"; then SO_NOTE=; else
	SO_NOTE=" (note: $PKGLIB/ppprof.so was replaced by another build during the run; the server kept the one it started with)"
fi
echo "Load average at the end: $LOAD_END; run took $(($(date +%s) - T_START)) s.$SO_NOTE"
echo
echo "CSV: $CSV, $SUM_CSV$(has_part memory && echo ", $MEM_CSV")"
