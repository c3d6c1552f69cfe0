#!/usr/bin/env bash
# test/run_all.sh -- every test suite of ppprof (what "make test" runs).
#
# Installs missing dependencies, builds and installs the extension, then runs
#   unit        cmocka tests of src/core (test/unit), also under ASan/UBSan
#   fuzz        libFuzzer targets of src/core (test/fuzz), a short run each
#   regression  pg_regress on a temporary instance with ppprof preloaded
#   tap         test/t/*.pl with PostgreSQL::Test::Cluster
#   python      the Python client's pytest suite (clients/python/tests), on
#               a temporary server with ppprof preloaded that it starts itself
#   bench       bench/*.sh in smoke mode (they still run; no timing checked)
# and ends with one line "N passed, N failed" counting the individual tests
# of every suite.  Exits non-zero when anything failed.
#
# PP_SUITES="pg_regress tap" runs only the suites named (of unit, fuzz,
# pg_regress, tap, python, bench; all by default) and installs only what
# they need.
# PP_TAP_SKIP="017_otlp_sdk" leaves the TAP tests named out (and says so).
# PG_MAJOR (test/lib.sh) chooses the PostgreSQL version.
set -u
cd "$(dirname "$0")/.."
. test/lib.sh

PP_SUITES=${PP_SUITES:-unit fuzz pg_regress tap python bench}
# suite NAME: whether NAME is to run
suite() { case " $PP_SUITES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
suite fuzz || suite bench || PP_PACKAGES=$PP_PACKAGES_BUILD
# TAP 019 needs Debian's chromium (test/lib.sh)
suite tap && PP_NEED_CHROMIUM=${PP_NEED_CHROMIUM:-1}

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
if suite unit; then
	run_unit "(plain)"
	run_unit "(AddressSanitizer)" SANITIZE=1
fi

if suite fuzz; then
	echo "== fuzz smoke runs (libFuzzer, ASan, UBSan)"
	if make -s -C test/fuzz clean smoke >"$log" 2>&1; then :; fi
	cat "$log"
	p=$(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
	f=$(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
	count_suite fuzz "${p:-0}" "${f:-1}"
fi

expected=
if suite pg_regress; then
	echo "== regression tests (pg_regress, PostgreSQL $PG_MAJOR)"
	regress_opts=
	if [ "$PG_MAJOR" -ge 16 ]; then
		# The expected outputs are PostgreSQL 15's.  Where a hint names the
		# Debian package of pg_cron, this server names its own version's:
		# pg_regress 16+ takes its expected files from such a copy.
		expected=$(mktemp -d /tmp/ppprof-expected.XXXXXX)
		if [ -d "$work/test/expected" ]; then cp -r "$work/test/expected" "$expected/"; else cp -r "$work/expected" "$expected/"; fi
		sed -i "s/^\(HINT: .*(Debian: postgresql-\)15\(-cron)\)/\1$PG_MAJOR\2/" "$expected"/expected/*.out
		chmod -R a+rX "$expected"
		regress_opts=--expecteddir=$expected
	fi
	pp_as_pg make -s -C "$work" PG_CONFIG="$PG_CONFIG" EXTRA_REGRESS_OPTS="$regress_opts" installcheck >"$log" 2>&1
	rc=$?
	cat "$log"
	# one line per test: "test name ... ok" (15), "ok 1 - name" (16+)
	p=$(grep -cE '^((test| ) *[a-z_0-9]+ +\.\.\. ok|ok [0-9]+ +[-+] +[a-z_0-9]+ )' "$log")
	f=$(grep -cE '^((test| ) *[a-z_0-9]+ +\.\.\. FAILED|not ok [0-9]+ +[-+] +[a-z_0-9]+ )' "$log")
	if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
	[ -f "$work/regression.diffs" ] && cat "$work/regression.diffs"
	count_suite pg_regress "$p" "$f"
fi

if suite tap; then
	echo "== TAP tests"
	# the same place for the logs on 15 (which derives it from TESTDIR) and
	# 16+ (which takes it from TESTDATADIR and TESTLOGDIR)
	tapdata=$work/test/t/tmp_check
	for t in test/t/*.pl; do
		[ -e "$t" ] || continue
		case " ${PP_TAP_SKIP:-} " in
		*" $(basename "$t" .pl) "*)
			echo "$t: left out (PP_TAP_SKIP)"
			continue ;;
		esac
		if pp_as_pg env -C "$work" PERL5LIB="$($PG_CONFIG --pgxs | xargs dirname)/../test/perl:$work/test/t" \
			PG_REGRESS="$($PG_CONFIG --pgxs | xargs dirname)/../test/regress/pg_regress" \
			TESTDIR="$work/test/t" TESTDATADIR="$tapdata" TESTLOGDIR="$tapdata/log" \
			PG_CONFIG="$PG_CONFIG" prove "$t" >"$log" 2>&1; then
			count 1 0
		else
			count_suite "$t" 0 1
			tail -50 "$tapdata/log/regress_log_$(basename "$t" .pl)" 2>/dev/null
		fi
		cat "$log"
	done
fi

if suite python; then
	echo "== Python client tests (pytest, $PP_PYTHON)"
	# as the TAP tests: the postgres OS user under root, in the work copy;
	# each test's result counts, a collection error or a crash once
	pp_as_pg env -C "$work/clients/python" PG_CONFIG="$PG_CONFIG" PYTHONDONTWRITEBYTECODE=1 \
		"$PP_PYTHON" -m pytest -p no:cacheprovider -rfEs tests >"$log" 2>&1
	rc=$?
	cat "$log"
	# the last line: "== 3 failed, 40 passed, 1 skipped in 20.12s =="
	summary=$(tail -1 "$log")
	p=$(echo "$summary" | grep -oE '[0-9]+ passed' | awk '{print $1}')
	f=$(echo "$summary" | grep -oE '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
	if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
	count_suite python "${p:-0}" "$f"
fi

if suite bench; then
	echo "== benchmark smoke runs (the scripts keep working; no timing is checked)"
	for b in bench/ingest.sh bench/stats.sh bench/report.sh bench/callgrind.sh bench/purge.sh bench/spans.sh bench/tdigest.sh bench/otlp.sh bench/python.sh; do
		if BENCH_SMOKE=1 bash "$b" >"$log" 2>&1; then
			count 1 0
			echo "$b: ok"
		else
			count_suite "$b" 0 1
			echo "$b: FAILED"
			tail -40 "$log"
		fi
	done
fi

rm -f "$log"
# the failures again, where the last lines of a long log show them
if [ -n "$failed_suites" ]; then
	echo "failed suites:$failed_suites"
	cat "$reasons"
	[ -f "$work/regression.diffs" ] && head -60 "$work/regression.diffs"
fi
rm -f "$reasons"
[ -n "$expected" ] && rm -rf "$expected"
[ "$work" != "$(pwd)" ] && [ "$fail" = 0 ] && rm -rf "$work"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
