# Makefile -- PGXS build of the ppprof extension, its tests and its demo.
#
#   make && sudo make install     build and install into $(PG_CONFIG)'s tree
#   make demo                     dependencies, build, install, throwaway
#                                 cluster, generated profiles, printed result
#   make test                     every suite (unit, regression, TAP)
#
# See README.md.

EXTENSION = ppprof
MODULE_big = ppprof

CORE_OBJS = src/core/alloc.o src/core/error.o src/core/tree.o \
	src/core/classify.o src/core/sketch.o src/core/reservoir.o \
	src/core/score.o src/core/patterns.o src/core/trend.o src/core/dumpfile.o \
	src/core/decimal.o src/core/arena.o src/core/rules.o src/core/changes.o \
	src/core/rollup.o
OBJS = src/ppprof.o src/guc.o src/allocator.o src/spi_owner.o src/config.o \
	src/numeric_decode.o src/jsonb_source.o src/jsonb_build.o src/profile.o \
	src/ingest.o src/shmem.o src/dump.o src/observe.o src/window.o src/stats.o src/paths.o src/dimensions.o src/rebuild.o src/rollups.o src/rollup_read.o src/partitions.o src/report.o src/report_changes.o \
	src/usage.o src/compare.o src/trends.o src/snapshot.o src/span.o src/otlp.o \
	src/timeline.o src/svg.o src/flamegraph.o src/export.o \
	$(CORE_OBJS)

# The install script is built from topic files, concatenated in this order
# (a file names only objects of the files before it), and installed by PGXS
# as DATA_built.  No version has been released, so there are no upgrade
# scripts (CHANGELOG.md, docs/design.md).  EXTVERSION is ppprof.control's
# default_version.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(srcdir)/$(EXTENSION).control)
SQL_SRC = header profiles config ingest stats rollups paths dimensions report spans snapshots \
	baselines alerts partitions jobs otlp visualize privileges finish
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# pg_regress inputs are test/sql/*.sql, their outputs test/expected/*.out
# (--inputdir); results/ and regression.diffs stay at the top.  The list is
# explicit (never a wildcard).
REGRESS = schema ingest ingest_errors config privileges search_path reader_search_path hostile lint stats settings report report_changes trends operations alert_long_name quoted_schema spans install fuzz accuracy bounds otlp paths dimensions visualize rollups rollup_reads rebuild_rollups cost replica partitions
REGRESS_OPTS = --inputdir=$(srcdir)/test --temp-config=$(srcdir)/ppprof.conf \
	--temp-instance=$(CURDIR)/tmp_check --no-locale --encoding=UTF8

EXTRA_CLEAN = tmp_check results regression.diffs regression.out \
	test/t/tmp_check log

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/core
PG_CFLAGS = -Wall -Wextra -Werror -Wshadow=compatible-local -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else
# No server development files yet: "make test" and "make demo" install them.
all:
	@echo "pg_config not found: run 'make demo' or 'make test', which install the dependencies" >&2
	@false
endif

sql/$(EXTENSION)--$(EXTVERSION).sql: $(patsubst %,$(srcdir)/sql/src/%.sql,$(SQL_SRC))
	awk 'FNR == 1 && NR > 1 { print "" } { print }' $^ > $@

# The scripts of the pre-release versions (1.0 to 1.2 and their updates),
# left by an install from an earlier checkout, would offer versions and
# update paths that no longer exist: install removes them.
PRE_RELEASE_SCRIPTS = $(EXTENSION)--1.0.sql $(EXTENSION)--1.0--1.1.sql \
	$(EXTENSION)--1.1--1.2.sql $(EXTENSION)--1.2--1.3.sql
install: remove-pre-release-scripts
.PHONY: remove-pre-release-scripts
remove-pre-release-scripts:
	rm -f $(addprefix '$(DESTDIR)$(datadir)/extension/,$(addsuffix ',$(PRE_RELEASE_SCRIPTS)))

# The C client library and the ppprof command (client/) build and install
# with the extension.
all: client-all
install: client-install
clean: client-clean
.PHONY: client-all client-install client-clean
client-all:
	$(MAKE) -C $(srcdir)/client PG_CONFIG=$(PG_CONFIG)
client-install: client-all
	$(MAKE) -C $(srcdir)/client PG_CONFIG=$(PG_CONFIG) install
client-clean:
	$(MAKE) -C $(srcdir)/client clean
	$(MAKE) -C $(srcdir)/examples clean
	$(MAKE) -C $(srcdir)/test/client clean

# Every object depends on every header (PGXS does not track them).
$(OBJS): $(wildcard $(srcdir)/src/*.h $(srcdir)/src/core/*.h)

# The pure-C core is C11 and declares variables where they are used.
$(CORE_OBJS): override CFLAGS += -std=gnu11 -Wno-declaration-after-statement

.PHONY: test demo unit tap
test:
	bash test/run_all.sh

unit:
	$(MAKE) -C test/unit check

demo:
	bash test/gen/demo.sh

# Ingest benchmark (bench/ingest.sh, results in docs/benchmarks.md):
# performance_profiles vs an identical plain table; no timing assertions.
# "bench" and "bench-smoke" run the statistics benchmark too.
.PHONY: bench bench-smoke
bench:
	bash bench/ingest.sh
	bash bench/stats.sh
	bash bench/dimensions.sh
	bash bench/report.sh
	bash bench/callgrind.sh
	bash bench/purge.sh
	bash bench/spans.sh
	bash bench/tdigest.sh
	bash bench/otlp.sh
	bash bench/python.sh
	bash bench/scaling.sh
	bash bench/standby.sh
	bash bench/recovery.sh

bench-smoke:
	BENCH_SMOKE=1 bash bench/ingest.sh
	BENCH_SMOKE=1 bash bench/stats.sh
	BENCH_SMOKE=1 bash bench/dimensions.sh
	BENCH_SMOKE=1 bash bench/report.sh
	BENCH_SMOKE=1 bash bench/callgrind.sh
	BENCH_SMOKE=1 bash bench/purge.sh
	BENCH_SMOKE=1 bash bench/spans.sh
	BENCH_SMOKE=1 bash bench/tdigest.sh
	BENCH_SMOKE=1 bash bench/otlp.sh
	BENCH_SMOKE=1 bash bench/python.sh
	BENCH_SMOKE=1 bash bench/scaling.sh
	BENCH_SMOKE=1 bash bench/standby.sh
	BENCH_SMOKE=1 bash bench/recovery.sh

# Statistics benchmark (bench/stats.sh, results in docs/benchmarks.md):
# pp_operation_stats from shared memory vs the exact SQL, memory use;
# no timing assertions.
.PHONY: bench-stats bench-stats-smoke
bench-stats:
	bash bench/stats.sh

bench-stats-smoke:
	BENCH_SMOKE=1 bash bench/stats.sh

# Report benchmark (bench/report.sh, results in docs/benchmarks.md):
# pp_optimization_report vs the equivalent SQL at 10k, 100k and 1M profiles,
# and at 10, 100 and 1000 operations; plots in docs/img; no timing assertions.
.PHONY: bench-report bench-report-smoke
bench-report:
	bash bench/report.sh

bench-report-smoke:
	BENCH_SMOKE=1 bash bench/report.sh

# Retention benchmark (bench/purge.sh, results in docs/scaling.md).
.PHONY: bench-purge bench-purge-smoke
bench-purge:
	bash bench/purge.sh

bench-purge-smoke:
	BENCH_SMOKE=1 bash bench/purge.sh

# How far one node goes: ingest per second, shared memory, rollup size per
# day (bench/scaling.sh, results in docs/scaling.md).
.PHONY: bench-scaling bench-scaling-smoke
bench-scaling:
	bash bench/scaling.sh

bench-scaling-smoke:
	BENCH_SMOKE=1 bash bench/scaling.sh

# Reads on a streaming standby, from the rollups, against its primary and
# the exact SQL (bench/standby.sh, results in docs/benchmarks.md).
.PHONY: bench-standby
bench-standby:
	bash bench/standby.sh

# Restart-to-valid time of the statistics after a crash, and pp_rebuild()
# (bench/recovery.sh, results in docs/benchmarks.md).
.PHONY: bench-recovery
bench-recovery:
	bash bench/recovery.sh

# Percentiles against tdigest (bench/tdigest.sh, results in docs/benchmarks.md).
.PHONY: bench-tdigest
bench-tdigest:
	bash bench/tdigest.sh

# Span benchmark (bench/spans.sh, results in docs/benchmarks.md).
.PHONY: bench-spans
bench-spans:
	bash bench/spans.sh

# OpenTelemetry in: ppprof collect (JSON, protobuf) vs pp_ingest_jsonl of the
# same trees (bench/otlp.sh, results in docs/benchmarks.md); needs npm.
.PHONY: bench-otlp
bench-otlp:
	bash bench/otlp.sh

# The Python client's cost per profile() block, recorded, disabled and
# sampled out (bench/python.sh, results in docs/benchmarks.md and
# docs/python.md).
.PHONY: bench-python
bench-python:
	bash bench/python.sh
