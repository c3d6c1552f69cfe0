#!/usr/bin/env bash
# bench/ingest.sh -- ingest benchmark: INSERT of one realistic 10-node RAG
# profile into performance_profiles (ppprof's BEFORE INSERT trigger validates
# and analyses it) versus into plain_profiles, an identical table without the
# trigger.  What "make bench" and "make bench-smoke" run.
#
#   bash bench/ingest.sh                   default: 3 rounds of 20 s per table
#   BENCH_SECONDS=60 BENCH_ROUNDS=5 bash bench/ingest.sh
#   BENCH_SMOKE=1 bash bench/ingest.sh     2 s, 1 round: proves the script works
#
# Environment:
#   BENCH_SECONDS   duration of each pgbench run (default 20; smoke 2)
#   BENCH_ROUNDS    rounds; each round runs plain then ppprof (default 3; smoke 1)
#   BENCH_CLIENTS   pgbench clients and threads (default 2)
#   BENCH_PROFILES  distinct generated profiles to pick from (default 1000)
#
# Method.  A throwaway cluster (temp dir, Unix socket only, no TCP) with
# shared_preload_libraries = 'ppprof', synchronous_commit = off and fsync on.
# ppgen.profile(i) (test/gen/rag_profiles.sql) fills a helper table bench_src
# with BENCH_PROFILES distinct profiles stored as JSON *text*.  Both pgbench
# scripts are the same statement but for the table name:
#
#   \set id random(1, N)
#   INSERT INTO <table> (query_id, profile_data, total_duration_ms)
#   SELECT query_id, profile::jsonb, total_ms FROM bench_src WHERE id = :id;
#
# so each transaction does one primary-key lookup in a 1000-row, fully cached
# table and parses the JSON text into jsonb, as the server does for a profile
# that a client sends as a parameter.  The client supplies total_duration_ms
# (NOT NULL) because an application writing a plain table must; ppprof's
# trigger then still validates and classifies the whole tree and fills
# bottleneck_operations and optimization_suggestions.  A one-off reference run
# of the lookup and the cast alone (a SELECT, no INSERT) shows how much of a
# transaction they take.  The configurations alternate (plain, ppprof, plain,
# ppprof, ...) so that machine noise hits both alike; before each run both
# tables are truncated and a CHECKPOINT is taken, so every run starts from the
# same state, and checkpoint_timeout / max_wal_size are large enough that no
# checkpoint falls inside a run.  pgbench runs with -M prepared.
#
# Output: a markdown table on stdout and bench/out/ingest-<timestamp>.csv.
# Nothing here asserts a timing; the script fails only when a run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	SECONDS_PER_RUN=${BENCH_SECONDS:-2}
	ROUNDS=${BENCH_ROUNDS:-1}
	MODE=smoke
else
	SECONDS_PER_RUN=${BENCH_SECONDS:-20}
	ROUNDS=${BENCH_ROUNDS:-3}
	MODE=full
fi
CLIENTS=${BENCH_CLIENTS:-2}
NPROFILES=${BENCH_PROFILES:-1000}
PORT=5499	# only names the socket file in our own directory; no TCP

for v in SECONDS_PER_RUN ROUNDS CLIENTS NPROFILES; do
	case ${!v} in
	'' | *[!0-9]* | 0) echo "bench: $v must be a positive integer, got '${!v}'" >&2; exit 2 ;;
	esac
done

pp_install_deps
pp_build_install

TMP=$(mktemp -d /tmp/ppprof-bench.XXXXXX)
DATA=$TMP/data
SOCK=$TMP/sock
mkdir -p "$SOCK"
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$TMP"
chmod 755 "$TMP"

cleanup() {
	local rc=$?
	if [ -f "$DATA/postmaster.pid" ]; then
		pp_as_pg pg_ctl -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql_q() { pp_as_pg psql -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -d bench "$@"; }

# --- cluster ----------------------------------------------------------------
pp_as_pg initdb -D "$DATA" -A trust -U postgres --no-locale -E UTF8 >"$TMP/initdb.log" 2>&1 ||
	{ cat "$TMP/initdb.log" >&2; exit 1; }
cat >>"$DATA/postgresql.conf" <<EOF
# bench/ingest.sh
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'ppprof'
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB
EOF
if ! pp_as_pg pg_ctl -D "$DATA" -l "$TMP/server.log" -w start >/dev/null; then
	cat "$TMP/server.log" >&2
	exit 1
fi
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
psql_q <test/gen/rag_profiles.sql >/dev/null
psql_q <<EOF
CREATE TABLE bench_src (
    id int PRIMARY KEY,
    query_id text NOT NULL,
    profile text NOT NULL,
    total_ms float8 NOT NULL
);
INSERT INTO bench_src
SELECT i, 'q-' || i, p::text, (p->>'duration_ms')::float8
  FROM generate_series(1, $NPROFILES) AS i, LATERAL ppgen.profile(i) AS p;
VACUUM ANALYZE bench_src;
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
chmod 644 "$TMP"/*.sql

# run_pgbench SCRIPT -> sets TPS LAT NTX NFAIL
run_pgbench() {
	local out="$TMP/pgbench.out"
	if ! pp_as_pg pgbench -h "$SOCK" -p "$PORT" -U postgres -n -M prepared \
		-c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" -f "$TMP/$1.sql" bench >"$out" 2>&1; then
		cat "$out" >&2
		exit 1
	fi
	TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out" | tail -1)
	LAT=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$out")
	NTX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	NFAIL=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
	NFAIL=${NFAIL:-0}
	if [ -z "$TPS" ] || [ -z "$LAT" ] || [ -z "$NTX" ] || [ "$NTX" = 0 ] || [ "$NFAIL" != 0 ]; then
		echo "bench: pgbench run of $1 failed or could not be parsed:" >&2
		cat "$out" >&2
		exit 1
	fi
}

reset_tables() {
	psql_q -c "TRUNCATE plain_profiles, performance_profiles" -c "CHECKPOINT"
}

# every transaction stored exactly one row, and ppprof's trigger analysed it
check_rows() {
	local n
	n=$(psql_q -At -c "SELECT count(*) FROM $1")
	if [ "$n" != "$NTX" ]; then
		echo "bench: $1 has $n rows after $NTX transactions" >&2
		exit 1
	fi
	if [ "$1" = performance_profiles ]; then
		n=$(psql_q -At -c "SELECT count(*) FROM performance_profiles
		                   WHERE optimization_suggestions = '[]' AND bottleneck_operations <> '[]'")
		local analysed
		analysed=$(psql_q -At -c "SELECT count(*) FILTER (WHERE bottleneck_operations <> '[]')
		                          FROM performance_profiles")
		if [ "$n" != 0 ] || [ "$analysed" = 0 ]; then
			echo "bench: the ppprof trigger did not fill the analysis columns" >&2
			exit 1
		fi
	fi
}

# --- header ---------------------------------------------------------------------
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out
if [ "$MODE" = smoke ]; then CSV=bench/out/ingest-smoke-$STAMP.csv; else CSV=bench/out/ingest-$STAMP.csv; fi
echo "timestamp,mode,round,config,seconds,clients,tps,latency_avg_ms,transactions,failed" >"$CSV"

cat <<EOF
## Ingest benchmark ($MODE), $(date -u '+%Y-%m-%d %H:%M UTC')

- machine: $NPROC CPUs ($CPU_MODEL), $MEM RAM, $KERNEL
- PostgreSQL: $PGVER; ppprof commit $COMMIT
- settings: shared_preload_libraries = 'ppprof', synchronous_commit = off, fsync = on,
  checkpoint_timeout = 30min, max_wal_size = 8GB, everything else initdb's default
- load: pgbench -n -M prepared -c $CLIENTS -j $CLIENTS -T $SECONDS_PER_RUN, $ROUNDS round(s),
  plain and ppprof alternating; one INSERT of one profile per transaction,
  picked at random from $NPROFILES generated 10-node profiles (average $SRC_BYTES bytes of JSON)
- performance_profiles: triggers $PP_TRIGGERS; columns added by ppprof: $PP_COLS
  (plain_profiles has the seed's columns, defaults and created_at index, no trigger)

EOF

# --- reference: lookup + cast alone ----------------------------------------------
run_pgbench lookup
echo "$STAMP,$MODE,0,lookup_only,$SECONDS_PER_RUN,$CLIENTS,$TPS,$LAT,$NTX,$NFAIL" >>"$CSV"
LOOKUP_TPS=$TPS
LOOKUP_LAT=$LAT

# --- rounds ---------------------------------------------------------------------------
declare -a PLAIN_TPS PP_TPS PLAIN_LAT PP_LAT RATIO
for ((r = 1; r <= ROUNDS; r++)); do
	for t in plain_profiles performance_profiles; do
		reset_tables >/dev/null
		run_pgbench "$t"
		check_rows "$t"
		if [ "$t" = plain_profiles ]; then
			cfg=plain; PLAIN_TPS[r]=$TPS; PLAIN_LAT[r]=$LAT
		else
			cfg=ppprof; PP_TPS[r]=$TPS; PP_LAT[r]=$LAT
			RATIO[r]=$(awk -v a="${PLAIN_TPS[r]}" -v b="$TPS" 'BEGIN {printf "%.6f", b / a}')
		fi
		echo "$STAMP,$MODE,$r,$cfg,$SECONDS_PER_RUN,$CLIENTS,$TPS,$LAT,$NTX,$NFAIL" >>"$CSV"
		echo "round $r $cfg: $TPS tps" >&2
	done
done

# --- single-backend cross-check ---------------------------------------------------------
# The same INSERT, as one statement of BULK_ROWS rows in one backend: no
# client, no round trip, no commit per row, so the per-row difference is the
# trigger's own cost (plus writing its larger row).
if [ "$MODE" = smoke ]; then BULK_REPS=2; else BULK_REPS=20; fi
BULK_ROWS=$((BULK_REPS * NPROFILES))
declare -a BULK_PLAIN BULK_PP BULK_DIFF
for ((r = 1; r <= ROUNDS; r++)); do
	for t in plain_profiles performance_profiles; do
		reset_tables >/dev/null
		us=$(psql_q -At -c "SELECT bench_bulk('$t', $BULK_REPS)")
		if [ "$t" = plain_profiles ]; then
			cfg=bulk_plain; BULK_PLAIN[r]=$us
		else
			cfg=bulk_ppprof; BULK_PP[r]=$us
			BULK_DIFF[r]=$(awk -v a="${BULK_PLAIN[r]}" -v b="$us" 'BEGIN {printf "%.6f", b - a}')
		fi
		echo "$STAMP,$MODE,$r,$cfg,,1,,$(awk -v u="$us" 'BEGIN {printf "%.6f", u / 1000}'),$BULK_ROWS,0" >>"$CSV"
		echo "round $r $cfg: $us us/row" >&2
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

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "| round | plain tps | ppprof tps | ppprof / plain | plain latency (ms) | ppprof latency (ms) |"
echo "|---:|---:|---:|---:|---:|---:|"
for ((r = 1; r <= ROUNDS; r++)); do
	awk -v r="$r" -v a="${PLAIN_TPS[r]}" -v b="${PP_TPS[r]}" -v la="${PLAIN_LAT[r]}" -v lb="${PP_LAT[r]}" \
		'BEGIN {printf "| %d | %.0f | %.0f | %.3f | %.3f | %.3f |\n", r, a, b, b / a, la, lb}'
done
MP=$(median "${PLAIN_TPS[@]}")
MQ=$(median "${PP_TPS[@]}")
MLP=$(median "${PLAIN_LAT[@]}")
MLQ=$(median "${PP_LAT[@]}")
MR=$(median "${RATIO[@]}")
awk -v a="$MP" -v b="$MQ" -v la="$MLP" -v lb="$MLQ" \
	'BEGIN {printf "| **median** | **%.0f** | **%.0f** | **%.3f** | **%.3f** | **%.3f** |\n", a, b, b / a, la, lb}'
echo
awk -v a="$MP" -v b="$MQ" -v c="$CLIENTS" -v lt="$LOOKUP_TPS" -v ll="$LOOKUP_LAT" -v mr="$MR" 'BEGIN {
	printf "- ratio ppprof / plain (medians): **%.3f** (%+.1f%% inserts per second);\n", b / a, 100 * (b / a - 1)
	printf "  median of the per-round ratios: %.3f\n", mr
	printf "- extra time per profile: %.1f us of wall time per insert per client (%d x (1/%.0f - 1/%.0f) s),\n", c * 1e6 * (1 / b - 1 / a), c, b, a
	printf "  %.1f us of the whole machine per profile (1/%.0f - 1/%.0f s)\n", 1e6 * (1 / b - 1 / a), b, a
	printf "- reference, lookup + JSON cast alone (SELECT, no INSERT): %.0f tps, latency %.3f ms\n", lt, ll
}'
echo
echo "Single-backend cross-check: one INSERT ... SELECT of $BULK_ROWS profiles per run, alternating"
echo
echo "| round | plain us/row | ppprof us/row | difference us/row |"
echo "|---:|---:|---:|---:|"
for ((r = 1; r <= ROUNDS; r++)); do
	awk -v r="$r" -v a="${BULK_PLAIN[r]}" -v b="${BULK_PP[r]}" \
		'BEGIN {printf "| %d | %.1f | %.1f | %.1f |\n", r, a, b, b - a}'
done
awk -v a="$(median "${BULK_PLAIN[@]}")" -v b="$(median "${BULK_PP[@]}")" -v d="$(median "${BULK_DIFF[@]}")" \
	'BEGIN {printf "| **median** | **%.1f** | **%.1f** | **%.1f** |\n", a, b, d}'
echo
set -- $ROWSIZE
echo "Average stored row (pg_column_size): plain $1 bytes, ppprof $2 bytes, of which $3 bytes are the two analysis columns."
echo
echo "CSV: $CSV"
