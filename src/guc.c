/*-------------------------------------------------------------------------
 *
 * src/guc.c
 *	  ppprof's configuration parameters (GUCs).
 *
 * The limits protect the server from hostile or broken profiles; they are
 * superuser-settable so that a client cannot raise them for its session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"

int			pp_max_depth = 100;
int			pp_max_nodes = 10000;
int			pp_max_name_length = 200;
int			pp_max_operations = 200;
int			pp_reservoir_capacity = 400;
int			pp_horizon_min = 7 * 24 * 60;
bool		pp_enabled = true;
bool		pp_partition_profiles = false;
double		pp_sample_rate = 1.0;
int			pp_max_minute_buckets = 50000;
int			pp_max_hour_buckets = 7000;
int			pp_sketch_memory_kb = PP_SKETCH_MEMORY_DEFAULT_KB;
int			pp_max_clock_skew_s = 300;
int			pp_max_window_operations = 1000;
int			pp_max_paths = 1000;
int			pp_max_window_paths = 1000;
int			pp_max_transaction_nodes = 2000000;
int			pp_max_dimension_values = 100;
int			pp_max_dimension_entries = 256;
int			pp_snapshot_window_s = 300;
int			pp_snapshot_retention_min = 7 * 24 * 60;
int			pp_rollup_retention_min = 400 * 24 * 60;
bool		pp_rollup_keep = false;
bool		pp_rollup_worker = true;
bool		pp_rebuild_from_rollups = true;
int			pp_otlp_grace_period_ms = 60 * 1000;
int			pp_otlp_max_pending_spans = 100000;
int			pp_otlp_max_request_spans = 10000;

void
pp_guc_init(void)
{
	DefineCustomIntVariable("ppprof.max_depth",
							"Sets the deepest nesting accepted in a profile (the root is depth 1).",
							NULL,
							&pp_max_depth,
							100, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_nodes",
							"Sets the largest number of nodes accepted in one profile.",
							NULL,
							&pp_max_nodes,
							10000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_name_length",
							"Sets the longest operation_name accepted, in bytes.",
							NULL,
							&pp_max_name_length,
							200, 1, PP_NAME_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ppprof.enabled",
							 "Enables validation, analysis and statistics of profiles.",
							 "When off, rows are stored as they are; the statistics no longer cover them until pp_rebuild().",
							 &pp_enabled,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ppprof.partition_profiles",
							 "Makes CREATE EXTENSION ppprof create performance_profiles partitioned by created_at.",
							 "Read only by CREATE EXTENSION; the partitions are created by pp_create_partitions() or pg_partman.",
							 &pp_partition_profiles,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomRealVariable("ppprof.sample_rate",
							 "Sets the fraction of pp_ingest() calls whose profile is stored.",
							 "The others return NULL and are counted by pp_info().",
							 &pp_sample_rate,
							 1.0, 0.0, 1.0,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/*
	 * 1000: five times the operations shared memory tracks by default, so a
	 * window answered from shared memory never folds at the defaults; the
	 * table can hold any number of names, and 1000 operations cost at most
	 * about 25 MB of backend memory per window (a few hundred KB when each
	 * has few distinct durations).
	 */
	DefineCustomIntVariable("ppprof.max_window_operations",
							"Sets the number of operations a statistics window keeps apart; the rest are folded into one row.",
							"Each kept operation costs up to 25 kB of backend memory while the window is read.",
							&pp_max_window_operations,
							1000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/*
	 * 1000: ppprof.max_paths' default, so that a window answered from shared
	 * memory never folds at the defaults (docs/statistics.md, "Call paths").
	 */
	DefineCustomIntVariable("ppprof.max_window_paths",
							"Sets the number of call paths a statistics window keeps apart; the rest are folded into one row.",
							"Each kept path costs about 200 bytes of backend memory plus its name while the window is read.",
							&pp_max_window_paths,
							1000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_transaction_nodes",
							"Sets the number of profile nodes one transaction may change before its changes are no longer queued for the statistics, which are then rebuilt after its commit.",
							"A queued node costs about 250 bytes of backend memory until the commit.",
							&pp_max_transaction_nodes,
							2000000, 1000, 100000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/* docs/statistics.md, "Dimensions" */
	DefineCustomIntVariable("ppprof.max_dimension_values",
							"Sets the number of distinct values of a dimension that pp_dimension_stats keeps apart; the rest are folded into one row per operation.",
							"The values with the most nodes in the window are kept, among the first ten times as many met in created_at order.",
							&pp_max_dimension_values,
							100, 1, 100000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.snapshot_window",
							"Sets the span of recent profiles whose mean duration pp_snapshot() reports.",
							NULL,
							&pp_snapshot_window_s,
							300, 1, 7 * 24 * 3600,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.snapshot_retention",
							"Sets how long pp_snapshot() keeps rows of performance_snapshots.",
							"Each pp_snapshot() deletes the rows older than this.",
							&pp_snapshot_retention_min,
							7 * 24 * 60, 1, 3650 * 24 * 60,
							PGC_SUSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.otlp_grace_period",
							"Sets how long the spans of an OpenTelemetry trace are merged into its profile after its first span arrived.",
							"After it, a flush stores the spans whose root or parent never arrived, marked incomplete, "
							"and refuses later spans of the trace.",
							&pp_otlp_grace_period_ms,
							60 * 1000, 0, 24 * 60 * 60 * 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.otlp_max_pending_spans",
							"Sets how many OpenTelemetry spans the open traces may hold, all traces together.",
							"Spans beyond it are rejected (OTLP partial success) until flushes close traces.",
							&pp_otlp_max_pending_spans,
							100000, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.otlp_max_request_spans",
							"Sets the largest number of spans accepted in one pp_ingest_otlp() request.",
							"A larger request is refused whole.",
							&pp_otlp_max_request_spans,
							10000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.rollup_retention",
							"Sets how long hour rollups are kept, whatever pp_purge() removes of the raw profiles.",
							NULL,
							&pp_rollup_retention_min,
							400 * 24 * 60, 24 * 60, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("ppprof.rollup_worker",
							 "Writes the rollups of closed minutes in a background worker.",
							 "When off, rollups are written only by pp_rollup() (from pg_cron, for example).",
							 &pp_rollup_worker,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ppprof.rebuild_from_rollups",
							 "Rebuilds the statistics from the rollups and the rows they lack.",
							 "When off, a rebuild reads every row inside ppprof.horizon.",
							 &pp_rebuild_from_rollups,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("ppprof.rollup_keep",
							 "Keeps the rollups of the profiles this session deletes (pp_purge() sets it).",
							 NULL,
							 &pp_rollup_keep,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/*
	 * The sizes of the shared memory can only be defined while the library
	 * is preloaded: PostgreSQL refuses (FATAL) a PGC_POSTMASTER variable
	 * defined later, which would break every session loading ppprof
	 * without preload.  They mean nothing then anyway.
	 */
	if (!process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("ppprof.max_clock_skew",
							"Sets how far ahead of the server's clock a profile's created_at may be.",
							"A row dated later is refused: it would move the shared statistics past real history.",
							&pp_max_clock_skew_s,
							300, 0, 24 * 60 * 60,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("ppprof");
		return;
	}

	DefineCustomIntVariable("ppprof.max_operations",
							"Sets the number of operations tracked in shared memory, all databases together.",
							"When full, the operation seen least recently is evicted.",
							&pp_max_operations,
							200, 16, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_paths",
							"Sets the number of call paths tracked in shared memory, all databases together.",
							"Each costs about 1.2 kB; paths have their own entries and never take an operation's. "
							"When full, the path seen least recently is evicted (with the paths under it); "
							"0 keeps no path statistics in shared memory (path windows read the table).",
							&pp_max_paths,
							1000, 0, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_dimension_entries",
							"Sets the number of (dimension, value, operation) entries tracked in shared memory, all databases together.",
							"Each costs about 1.2 kB; dimension entries have their own slots, and their buckets give way first when a pool is full. "
							"A dimension whose values do not fit is read from the table; 0 keeps no dimension statistics in shared memory.",
							&pp_max_dimension_entries,
							256, 0, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.reservoir_size",
							"Sets the number of sample durations kept per operation.",
							NULL,
							&pp_reservoir_capacity,
							400, 0, 100000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.horizon",
							"Sets how far back shared-memory statistics reach; older windows are read from the table.",
							NULL,
							&pp_horizon_min,
							7 * 24 * 60, 60, 90 * 24 * 60,
							PGC_POSTMASTER, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_minute_buckets",
							"Sets the number of one-minute time buckets in shared memory, all operations together.",
							"Minute buckets cover the last day; when full, the minute region gives up its oldest hour.",
							&pp_max_minute_buckets,
							50000, 100, 10000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_hour_buckets",
							"Sets the number of one-hour time buckets in shared memory, all operations together.",
							"Every observation is also in an hour bucket; when full, the horizon gives up its oldest hour.",
							&pp_max_hour_buckets,
							7000, 10, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.sketch_memory",
							"Sets the shared memory that holds the quantile sketches of the time buckets.",
							"Sketches grow with the distinct durations of their bucket and never lose accuracy; "
							"when this memory runs short, the oldest minute buckets, then the oldest hour buckets "
							"are given up (their windows are read from the table), as pp_info() reports.",
							&pp_sketch_memory_kb,
							PP_SKETCH_MEMORY_DEFAULT_KB, 128, MAX_KILOBYTES,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_clock_skew",
							"Sets how far ahead of the server's clock a profile's created_at may be.",
							"A row dated later is refused: it would move the shared statistics past real history.",
							&pp_max_clock_skew_s,
							300, 0, 24 * 60 * 60,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("ppprof");
}
