#!/usr/bin/env bash
# test/run_all.sh -- every test suite of ppprof (what "make test" runs).
#
# Installs missing dependencies, builds and installs the extension, then runs
#   unit        cmocka tests of src/core (test/unit), also under ASan/UBSan
#   fuzz        libFuzzer targets of src/core (test/fuzz), a short run each
#   regression  pg_regress on a temporary instance with ppprof preloaded
#   tap         test/t/*.pl with PostgreSQL::Test::Cluster
#   bench       bench/*.sh in smoke mode (they still run; no timing checked)
# and ends with one line "N passed, N failed" counting the individual tests
# of every suite.  Exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
. test/lib.sh

pass=0
fail=0
failed_suites=
count() { pass=$((pass + $1)); fail=$((fail + $2)); }
# count_suite NAME PASSED FAILED: count, and remember NAME when it failed
count_suite() {
	count "$2" "$3"
	[ "$3" = 0 ] && return
	failed_suites="$failed_suites $1"
	{ echo "-- $1"; grep -E 'not ok|Failed test|FAILED|ERROR|Sanitizer|panic' "$log" | head -12; } >>"$reasons"
}

pp_install_deps || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
if ! pp_build_install; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

work=$(pp_workdir)
log=$(mktemp /tmp/ppprof-test-log.XXXXXX)
reasons=$(mktemp /tmp/ppprof-test-failures.XXXXXX)
chmod 644 "$log"

# cmocka: "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" per binary
run_unit() {
	local label=$1; shift
	echo "== unit tests $label"
	if pp_as_pg make -s -C "$work/test/unit" clean check "$@" >"$log" 2>&1; then :; fi
	cat "$log"
	local p f
	p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
	f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
	# a binary that did not build or crashed counts once
	if ! grep -q '^unit: [0-9]* passed, 0 failed' "$log" && [ "$f" = 0 ]; then f=1; fi
	count_suite "unit$label" "$p" "$f"
}
run_unit "(plain)"
run_unit "(AddressSanitizer)" SANITIZE=1

echo "== fuzz smoke runs (libFuzzer, ASan, UBSan)"
if make -s -C test/fuzz clean smoke >"$log" 2>&1; then :; fi
cat "$log"
p=$(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
f=$(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
count_suite fuzz "${p:-0}" "${f:-1}"

echo "== regression tests (pg_regress)"
pp_as_pg make -s -C "$work" PG_CONFIG="$PG_CONFIG" installcheck >"$log" 2>&1
rc=$?
cat "$log"
p=$(grep -cE '^(test| ) *[a-z_0-9]+ +\.\.\. ok' "$log")
f=$(grep -cE '^(test| ) *[a-z_0-9]+ +\.\.\. FAILED' "$log")
if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
[ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
count_suite pg_regress "$p" "$f"

echo "== TAP tests"
for t in test/t/*.pl; do
	[ -e "$t" ] || continue
	if pp_as_pg env -C "$work" PERL5LIB="$($PG_CONFIG --pgxs | xargs dirname)/../test/perl:$work/test/t" \
		PG_REGRESS="$($PG_CONFIG --pgxs | xargs dirname)/../test/regress/pg_regress" \
		TESTDIR="$work/test/t" PG_CONFIG="$PG_CONFIG" prove "$t" >"$log" 2>&1; then
		count 1 0
	else
		count_suite "$t" 0 1
		cat "$work"/test/t/tmp_check/log/regress_log_* 2>/dev/null | tail -50
	fi
	cat "$log"
done

echo "== benchmark smoke runs (the scripts keep working; no timing is checked)"
for b in bench/ingest.sh bench/stats.sh bench/report.sh bench/callgrind.sh bench/purge.sh bench/spans.sh bench/tdigest.sh; do
	if BENCH_SMOKE=1 bash "$b" >"$log" 2>&1; then
		count 1 0
		echo "$b: ok"
	else
		count_suite "$b" 0 1
		echo "$b: FAILED"
		tail -40 "$log"
	fi
done

rm -f "$log"
# the failures again, where the last lines of a long log show them
if [ -n "$failed_suites" ]; then
	echo "failed suites:$failed_suites"
	cat "$reasons"
	[ -f "$work/regression.diffs" ] && head -60 "$work/regression.diffs"
fi
rm -f "$reasons"
[ "$work" != "$(pwd)" ] && [ "$fail" = 0 ] && rm -rf "$work"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
