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
#include "utils/jsonb.h"

/* guc.c */
extern int	pp_max_depth;
extern int	pp_max_nodes;
extern int	pp_max_name_length;
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
} PPConfig;

extern void pp_config_init(void);
extern PPConfig *pp_config_get(void);
extern const pp_allocator_t *pp_palloc_allocator(MemoryContext cxt);

/* jsonb_source.c: pp_tree_source_t over a Jsonb walked in place */
extern void pp_jsonb_source_init(pp_tree_source_t *source);
extern const void *pp_jsonb_root_handle(Jsonb *jb);

/* ingest.c */
extern void pp_ingest_init(void);

#endif							/* PPPROF_H */
