/*-------------------------------------------------------------------------
 *
 * src/ppprof.h
 *	  Declarations shared by the server-side modules of ppprof.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PPPROF_H
#define PPPROF_H

#include "postgres.h"

#include "classify.h"
#include "tree.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

/* Longest operation name accepted (ppprof.max_name_length's upper bound) */
#define PP_NAME_MAX 1000

/* guc.c */
extern int	pp_max_depth;
extern int	pp_max_nodes;
extern int	pp_max_name_length;
extern bool pp_enabled;
extern double pp_sample_rate;
extern int	pp_max_operations;
extern int	pp_reservoir_capacity;
extern int	pp_horizon_min;
extern int	pp_max_minute_buckets;
extern int	pp_max_window_operations;
extern int	pp_sketch_memory_kb;	/* ppprof.sketch_memory, kB */
/* its default: see "Memory" in docs/statistics.md */
#define PP_SKETCH_MEMORY_DEFAULT_KB	(48 * 1024)
extern int	pp_max_hour_buckets;
extern int	pp_max_clock_skew_s;
extern int	pp_snapshot_window_s;	/* snapshot.c */
extern int	pp_snapshot_retention_min;
extern void pp_guc_init(void);

/* config.c: the per-backend cache of the configuration tables */
typedef struct PPCatalogEntry
{
	char	   *operation_type;
	char	   *suggestion;
	char	   *effort;			/* low, medium or high */
	double		expected_reduction_pct;
} PPCatalogEntry;

typedef struct PPConfig
{
	Oid			schema;			/* the extension's schema */
	Oid			profiles_relid; /* performance_profiles */
	pp_classifier_t *classifier;	/* categories and thresholds */
	PPCatalogEntry *catalog;	/* enabled entries, by type then reduction */
	int			n_catalog;
	MemoryContext cxt;			/* holds all of the above; dropped on reload */
	struct HTAB *suggestion_cache;	/* bottleneck types -> suggestions
									 * (ingest.c) */
} PPConfig;

extern void pp_config_init(void);
extern PPConfig *pp_config_get(void);
extern Oid	pp_config_owner(PPConfig *cfg);

typedef struct PPSavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nest;		/* GUC nest level of the pinned search_path */
} PPSavedUser;
extern void pp_spi_connect_as(Oid owner, PPSavedUser *saved);
extern void pp_spi_finish_as(const PPSavedUser *saved);
extern const pp_allocator_t *pp_palloc_allocator(MemoryContext cxt);
extern const pp_allocator_t *pp_current_allocator(void);

/* jsonb_build.c: jsonb results built value by value */
extern void pp_jb_key(JsonbParseState **st, const char *key);
extern void pp_jb_string(JsonbParseState **st, const char *key, const char *s);
extern void pp_jb_string_n(JsonbParseState **st, const char *key,
						   const char *s, size_t len);
extern void pp_jb_number(JsonbParseState **st, const char *key, double d);
extern void pp_jb_ms(JsonbParseState **st, const char *key, double d);
extern void pp_jb_int(JsonbParseState **st, const char *key, int64 n);
extern void pp_jb_bool(JsonbParseState **st, const char *key, bool b);
extern void pp_jb_time(JsonbParseState **st, const char *key, TimestampTz t);
extern void pp_jb_begin_object(JsonbParseState **st, const char *key);
extern void pp_jb_end_object(JsonbParseState **st);
extern void pp_jb_begin_array(JsonbParseState **st, const char *key);
extern void pp_jb_end_array(JsonbParseState **st);
extern Jsonb *pp_jb_finish(JsonbParseState **st, bool object);

/* jsonb_source.c: pp_tree_source_t over a Jsonb walked in place */
extern void pp_jsonb_source_init(pp_tree_source_t *source);
extern const void *pp_jsonb_root_handle(Jsonb *jb);

/* ingest.c */

/* columns of performance_profiles that ppprof reads or fills */
typedef enum PPColumn
{
	PP_COL_ID,
	PP_COL_QUERY_ID,
	PP_COL_PROFILE_DATA,
	PP_COL_TOTAL_DURATION_MS,
	PP_COL_BOTTLENECK_OPERATIONS,
	PP_COL_OPTIMIZATION_SUGGESTIONS,
	PP_COL_CREATED_AT,
	PP_COL_PPPROF_ANALYZED,
	PP_NUM_COLUMNS
} PPColumn;

extern void pp_ingest_init(void);
extern const int *pp_profile_columns(TupleDesc desc);
extern bool pp_profile_walk(Jsonb *jb, pp_tree_t *tree);
extern TimestampTz pp_created_at_limit(void);

/* stats.c */
extern void pp_require_shmem(const char *func);

/* rebuild.c */
extern int64 pp_rebuild_database(bool background);
extern void pp_request_rebuild(Oid dbid);

/* observe.c */
extern void pp_observe_init(void);
extern void pp_observe_stage(const pg_uuid_t *id, TimestampTz created_at,
							 double total_ms, const pp_tree_t *tree,
							 const char *const *types, double ingest_us);
extern void pp_observe_disabled_write(void);
extern void pp_observe_enabled_write(void);
extern void pp_observe_rebuilt(void);

#endif							/* PPPROF_H */
