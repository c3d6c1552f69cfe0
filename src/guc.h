/*-------------------------------------------------------------------------
 *
 * src/guc.h
 *	  ppprof's settings (the ppprof.* GUCs).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_GUC_H
#define PP_GUC_H

#include "postgres.h"

/* Longest operation name accepted (ppprof.max_name_length's upper bound) */
#define PP_NAME_MAX 1000

/* ppprof.sketch_memory's default, kB: see "Memory" in docs/statistics.md */
#define PP_SKETCH_MEMORY_DEFAULT_KB	(48 * 1024)

extern int	pp_max_depth;
extern int	pp_max_nodes;
extern int	pp_max_name_length;
extern bool pp_enabled;
extern bool pp_partition_profiles;	/* read by the install script */
extern double pp_sample_rate;
extern int	pp_max_operations;
extern int	pp_reservoir_capacity;
extern int	pp_horizon_min;
extern int	pp_max_minute_buckets;
extern int	pp_max_window_operations;
extern int	pp_max_paths;
extern int	pp_max_window_paths;
extern int	pp_max_transaction_nodes;
extern int	pp_max_dimension_values;
extern int	pp_max_dimension_entries;
extern int	pp_sketch_memory_kb;	/* ppprof.sketch_memory, kB */
extern int	pp_max_hour_buckets;
extern int	pp_max_clock_skew_s;
extern int	pp_snapshot_window_s;
extern int	pp_snapshot_retention_min;
extern int	pp_rollup_retention_min;	/* ppprof.rollup_retention, minutes */
extern bool pp_rollup_keep;		/* ppprof.rollup_keep: deletes do not mark */
extern bool pp_rollup_worker;	/* ppprof.rollup_worker */
extern bool pp_rebuild_from_rollups;	/* ppprof.rebuild_from_rollups */
extern int	pp_otlp_grace_period_ms;	/* ppprof.otlp_grace_period, ms */
extern int	pp_otlp_max_pending_spans;
extern int	pp_otlp_max_request_spans;

extern void pp_guc_init(void);

#endif							/* PP_GUC_H */
