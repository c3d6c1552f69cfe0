#!/usr/bin/env bash
# bench/otlp.sh -- OpenTelemetry in: spans per second through ppprof collect
# (OTLP/HTTP, JSON and protobuf) into the database, against pp_ingest_jsonl
# of the same trees, side by side in one run (docs/benchmarks.md).  What
# "make bench-otlp" runs (and "make bench" / "make bench-smoke").
#
#   bash bench/otlp.sh                  500 requests of 10 traces (11 spans each), 4 clients, 5 rounds
#   BENCH_SMOKE=1 bash bench/otlp.sh    8 requests of 2 traces, 2 clients, 1 round: proves the script works
#
# Environment:
#   BENCH_REQUESTS   requests (batches) per run (default 500; smoke 8)
#   BENCH_TRACES     traces per request, i.e. per batch (default 10; smoke 2);
#                    11 x BENCH_REQUESTS x BENCH_TRACES spans must stay within
#                    ppprof.otlp_max_pending_spans (100,000): they are all held
#                    until their traces close
#   BENCH_CLIENTS    requests in flight, and collect's --workers (default 4; smoke 2)
#   BENCH_ROUNDS     rounds (default 5; smoke 1)
#
# Method.  The request bodies are made once, before any timing: the
# official OpenTelemetry JavaScript SDK pinned in test/otlp/ (npm ci from its
# lock file into a temporary prefix, as TAP 017 does) records
# BENCH_REQUESTS x BENCH_TRACES traces of a RAG pipeline, 11 spans each
# (rag.query > guardrail, query rewrite (gen_ai chat), retrieve > embed
# (gen_ai embeddings), two vector searches and a keyword search (db.system),
# rerank (HTTP client; failed in one trace in five, with an exception event),
# generate (gen_ai chat, token counts), guardrail), and bench/otlp/gen.js
# encodes each request's spans with the serializers the SDK's OTLP/HTTP
# exporters use, as JSON and as protobuf: the bytes those exporters send.
# Every span of a trace is in the same request.
#
# A throwaway cluster (temp dir, Unix socket only) with ppprof preloaded,
# synchronous_commit = off, fsync on, no checkpoint within a run.  One
# ppprof collect (--workers BENCH_CLIENTS, listening on 127.0.0.1, a free
# port; its database connection is the Unix socket) runs throughout.  Then:
#
#   collect_json   bench/otlp/replay.js POSTs the JSON bodies, BENCH_CLIENTS
#                  in flight over keep-alive connections; each must get 200
#   collect_proto  the same with the protobuf bodies
#   otlp_sql       BENCH_CLIENTS psql processes, each sending its share of
#                  the JSON bodies as SELECT pp_ingest_otlp('<body>'): the
#                  SQL entry point without the receiver, to tell apart what
#                  each costs
#   jsonl          BENCH_CLIENTS psql processes, each sending its share of
#                  the batches as SELECT pp_ingest_jsonl('<lines>'), one
#                  statement (transaction) per batch
#
# The jsonl batches are the same trees: the profiles that an untimed
# warm-up run of collect_json stored, one per line, grouped as the requests
# grouped their traces (with metadata.query_id = the trace id, so that the
# rows get the same query_id).  Before every run the tables are truncated
# (performance_profiles and the two OTLP tables) and a CHECKPOINT is taken;
# after it the script checks that every trace is stored once, with the same
# node count and total duration as in the warm-up.  Time is wall-clock from
# the first request to the last answer (for jsonl, from starting the psql
# processes to their exit, so it includes their connection: a few ms).
# Within a round the four configurations run one after the other, the
# first one rotating from round to round, so that machine noise and order
# hit them alike.  Reported: spans per second (and traces per second),
# median and range over rounds, and collect / jsonl.
#
# Output: a markdown table on stdout and bench/out/otlp-<timestamp>.csv.
# Nothing here asserts a timing; the script fails only when a run or a
# check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	REQUESTS=${BENCH_REQUESTS:-8}; TRACES=${BENCH_TRACES:-2}; CLIENTS=${BENCH_CLIENTS:-2}; ROUNDS=${BENCH_ROUNDS:-1}; MODE=smoke
else
	REQUESTS=${BENCH_REQUESTS:-500}; TRACES=${BENCH_TRACES:-10}; CLIENTS=${BENCH_CLIENTS:-4}; ROUNDS=${BENCH_ROUNDS:-5}; MODE=full
fi
PORT=5493	# only names the socket file in our own directory; no TCP to the database
CONFIGS=(collect_json collect_proto otlp_sql jsonl)
. bench/lib.sh
for v in REQUESTS TRACES CLIENTS ROUNDS; do posint "$v" "${!v}"; done
[ "$CLIENTS" -le 64 ] || { echo "bench: BENCH_CLIENTS is at most 64 (collect's --workers)" >&2; exit 2; }

pp_install_deps
pp_build_install
bench_tmp ppprof-bench-otlp
LOAD_START=$(loadavg)
T_START=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/out
if [ "$MODE" = smoke ]; then CSV=bench/out/otlp-smoke-$STAMP.csv; else CSV=bench/out/otlp-$STAMP.csv; fi
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT="$COMMIT (modified)"; fi

# --- the request bodies, once ------------------------------------------------------
mkdir -p "$TMP/npm"
cp test/otlp/package.json test/otlp/package-lock.json "$TMP/npm/"
npm ci --no-audit --no-fund --silent --cache "$TMP/npm-cache" --prefix "$TMP/npm" >"$TMP/npm.log" 2>&1 ||
	{ cat "$TMP/npm.log" >&2; echo "bench: npm ci failed (npm and the npm registry are needed)" >&2; exit 1; }
SPANS=$(NODE_PATH=$TMP/npm/node_modules node bench/otlp/gen.js "$TMP/bodies" "$REQUESTS" "$TRACES")
NTRACES=$((REQUESTS * TRACES))
[ "$SPANS" = $((NTRACES * 11)) ] || { echo "bench: gen.js made $SPANS spans, expected $((NTRACES * 11))" >&2; exit 1; }
BYTES_JSON=$(cat "$TMP"/bodies/json/* | wc -c)
BYTES_PROTO=$(cat "$TMP"/bodies/proto/* | wc -c)
chmod -R a+rX "$TMP/bodies"

# --- cluster and receiver ------------------------------------------------------------
bench_initdb bench/otlp.sh
cat >>"$DATA/postgresql.conf" <<CONF
shared_preload_libraries = 'ppprof'
synchronous_commit = off
checkpoint_timeout = 30min
max_wal_size = 8GB
CONF
start_checked
pp_as_pg createdb -h "$SOCK" -p "$PORT" -U postgres bench
psql_q -c "CREATE EXTENSION ppprof"
cmp -s ppprof.so "$PKGLIB/ppprof.so" ||
	{ echo "bench: $PKGLIB/ppprof.so was replaced during CREATE EXTENSION; run again" >&2; exit 1; }
PGVER=$(psql_q -At -c "SHOW server_version")
# every span of a run is held (performance_otlp_spans) until its trace closes
MAXPEND=$(psql_q -At -c "SHOW ppprof.otlp_max_pending_spans")
[ "$SPANS" -le "$MAXPEND" ] ||
	{ echo "bench: $SPANS spans per run exceed ppprof.otlp_max_pending_spans ($MAXPEND): fewer BENCH_REQUESTS or BENCH_TRACES" >&2; exit 2; }

client/ppprof --dsn "host=$SOCK port=$PORT user=postgres dbname=bench" collect --listen 127.0.0.1:0 \
	--workers "$CLIENTS" 2>"$TMP/collect.log" &
COLLECT_PID=$!
stop_collect() {
	kill -TERM "$COLLECT_PID" 2>/dev/null && wait "$COLLECT_PID" 2>/dev/null || true
}
# bench_cleanup exits with the status it finds in $?: keep the script's
trap 'pp_rc=$?; stop_collect; if [ "$pp_rc" = 0 ]; then bench_cleanup; else (exit "$pp_rc") || bench_cleanup; fi' EXIT
for _ in $(seq 1 100); do
	grep -q 'listening on 127\.0\.0\.1:[0-9]' "$TMP/collect.log" && break
	kill -0 "$COLLECT_PID" 2>/dev/null || break
	sleep 0.1
done
CPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/collect.log" | head -1)
[ -n "$CPORT" ] || { cat "$TMP/collect.log" >&2; echo "bench: ppprof collect did not start" >&2; exit 1; }
URL=http://127.0.0.1:$CPORT/v1/traces

reset_tables() {
	psql_q -c "TRUNCATE performance_profiles, performance_otlp_traces, performance_otlp_spans" -c "CHECKPOINT"
}
# the stored trees: count, nodes, total duration (rounded to the µs)
STORED_SQL="WITH RECURSIVE n(node) AS (
                SELECT profile_data FROM performance_profiles
                UNION ALL
                SELECT c FROM n, jsonb_array_elements(n.node->'children') AS c)
            SELECT (SELECT count(*) FROM performance_profiles) || ' ' || count(*) || ' '
                   || (SELECT round(sum(total_duration_ms)::numeric, 3) FROM performance_profiles)
              FROM n"
replay() {	# replay json|proto: prints seconds
	node bench/otlp/replay.js "$URL" "$1" "$TMP/bodies/$1" "$CLIENTS"
}

# --- warm-up run of collect_json; the jsonl batches from what it stored --------------------
reset_tables >/dev/null
replay json >/dev/null
REF=$(psql_q -At -c "$STORED_SQL")
read -r n nodes _ <<<"$REF"
[ "$n" = "$NTRACES" ] && [ "$nodes" = "$SPANS" ] ||
	{ echo "bench: the warm-up stored $n profiles of $nodes nodes, expected $NTRACES of $SPANS" >&2; exit 1; }
psql_q -c "CREATE TABLE bench_traces (req int NOT NULL, trace_id text PRIMARY KEY)" \
	-c "\\copy bench_traces FROM '$TMP/bodies/traces.tsv'"
psql_q <<'SQL'
CREATE TABLE bench_jsonl AS
SELECT t.req,
       string_agg(jsonb_set(p.profile_data, '{metadata,query_id}', to_jsonb(p.query_id))::text, E'\n'
                  ORDER BY p.query_id) AS lines
  FROM performance_profiles p JOIN bench_traces t ON t.trace_id = p.query_id
 GROUP BY t.req;
SQL
nb=$(psql_q -At -c "SELECT count(*) FROM bench_jsonl")
[ "$nb" = "$REQUESTS" ] || { echo "bench: $nb jsonl batches, expected $REQUESTS" >&2; exit 1; }
# client c's statements: the batches req % CLIENTS = c, as literals
for ((c = 0; c < CLIENTS; c++)); do
	psql_q -At -c "SELECT format('SELECT pp_ingest_jsonl(%L);', lines) FROM bench_jsonl WHERE req % $CLIENTS = $c ORDER BY req" \
		>"$TMP/jsonl.$c.sql"
done
chmod a+r "$TMP"/jsonl.*.sql
BYTES_JSONL=$(cat "$TMP"/jsonl.*.sql | wc -c)
# the same JSON bodies as SELECT pp_ingest_otlp('<body>'), split the same way
for ((c = 0; c < CLIENTS; c++)); do
	for ((q = 1; q <= REQUESTS; q++)); do
		[ $((q % CLIENTS)) = "$c" ] || continue
		printf "SELECT pp_ingest_otlp('%s') IS NOT NULL;\n" "$(sed "s/'/''/g" "$TMP/bodies/json/$q")"
	done >"$TMP/otlp.$c.sql"
done
chmod a+r "$TMP"/otlp.*.sql
run_psql() {	# run_psql jsonl|otlp: CLIENTS psql processes, each its file; prints seconds
	local t0 t1 c pids=() rc=0 p
	t0=$(date +%s.%N)
	for ((c = 0; c < CLIENTS; c++)); do
		psql_q -At -f "$TMP/$1.$c.sql" >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	t1=$(date +%s.%N)
	[ "$rc" = 0 ] || { echo "bench: a psql client of $1 failed" >&2; return 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

# --- the runs -------------------------------------------------------------------------
echo "timestamp,mode,round,config,clients,requests,traces_per_request,spans,seconds,spans_per_s,traces_per_s,loadavg_1m" >"$CSV"
declare -A V R
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		cfg=${CONFIGS[$(((r - 1 + k) % ${#CONFIGS[@]}))]}
		reset_tables >/dev/null
		case $cfg in
		collect_json) secs=$(replay json) ;;
		collect_proto) secs=$(replay proto) ;;
		otlp_sql) secs=$(run_psql otlp) ;;
		jsonl) secs=$(run_psql jsonl) ;;
		esac
		got=$(psql_q -At -c "$STORED_SQL")
		[ "$got" = "$REF" ] || { echo "bench: round $r, $cfg stored '$got' (profiles nodes total_ms), the warm-up '$REF'" >&2; exit 1; }
		sps=$(awk -v s="$SPANS" -v t="$secs" 'BEGIN {printf "%.1f", s / t}')
		tps=$(awk -v s="$NTRACES" -v t="$secs" 'BEGIN {printf "%.1f", s / t}')
		V[$cfg]="${V[$cfg]:-} $sps"
		R[$r,$cfg]=$sps
		echo "$STAMP,$MODE,$r,$cfg,$CLIENTS,$REQUESTS,$TRACES,$SPANS,$secs,$sps,$tps,$(load1)" >>"$CSV"
		echo "round $r, $cfg: $secs s, $sps spans/s (load $(load1))" >&2
	done
done
stop_collect
# collect logs one line per problem; the rest is its start and its stop
problems=$(grep -c -v -E 'listening on|signal [0-9]+: finishing|: stopped$' "$TMP/collect.log" || true)

# --- results --------------------------------------------------------------------------
LOAD_END=$(loadavg)
echo "# bench/otlp.sh ($MODE): commit $COMMIT, $(date -u +%Y-%m-%dT%H:%MZ), PostgreSQL $PGVER, $(nproc) vCPU"
echo
echo "$REQUESTS requests (batches) of $TRACES traces, $SPANS spans per run, $CLIENTS clients (collect --workers $CLIENTS), $ROUNDS round(s)."
echo "Bytes sent per run: OTLP JSON $BYTES_JSON, OTLP protobuf $BYTES_PROTO, pp_ingest_jsonl statements $BYTES_JSONL."
echo "Client processes for the psql configurations: start and connection included in the time."
echo
echo "| configuration | spans/s, median (range) | traces/s, median | / pp_ingest_jsonl | median of per-round ratios |"
echo "|---|---:|---:|---:|---:|"
mj=$(median ${V[jsonl]})
for cfg in "${CONFIGS[@]}"; do
	case $cfg in
	collect_json) lbl="ppprof collect, OTLP/HTTP JSON" ;;
	collect_proto) lbl="ppprof collect, OTLP/HTTP protobuf" ;;
	otlp_sql) lbl="pp_ingest_otlp through psql, the JSON bodies (no receiver)" ;;
	jsonl) lbl="pp_ingest_jsonl, same trees, same batches" ;;
	esac
	rr=""
	for ((r = 1; r <= ROUNDS; r++)); do rr="$rr $(awk -v a="${R[$r,$cfg]}" -v b="${R[$r,jsonl]}" 'BEGIN {print a / b}')"; done
	awk -v l="$lbl" -v m="$(median ${V[$cfg]})" -v rg="$(range ${V[$cfg]})" -v j="$mj" -v rr="$(median $rr)" \
		'BEGIN {printf "| %s | **%.0f** (%s) | %.0f | **%.2f** | %.2f |\n", l, m, rg, m / 11, m / j, rr}'
done
echo
echo "Load average at the start: $LOAD_START; at the end: $LOAD_END; run took $(($(date +%s) - T_START)) s."
echo "ppprof collect logged $problems problem line(s)."
echo
echo "CSV: $CSV"
[ "$problems" = 0 ] || { sed 's/^/collect: /' "$TMP/collect.log" >&2; exit 1; }
