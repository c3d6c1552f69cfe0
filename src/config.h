/*-------------------------------------------------------------------------
 *
 * src/config.h
 *	  The per-backend cache of ppprof's configuration tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_CONFIG_H
#define PP_CONFIG_H

#include "postgres.h"

#include "classify.h"
#include "usage.h"

typedef struct PPCatalogEntry
{
	char	   *operation_type;
	char	   *suggestion;
	char	   *effort;			/* low, medium or high */
	double		expected_reduction_pct; /* of the measure */
	char	   *measure;		/* duration, time_to_first_token, cost or
								 * error_rate: what the suggestion improves */
} PPCatalogEntry;

/*
 * A row of operation_dimensions (src/dimensions.c): a key path, or a field
 * of usage_keys (usage_field >= 0, n_keys 0).
 */
#define PP_DIM_PATH_MAX 8		/* keys of a key path, at most (its CHECK) */
typedef struct PPDimensionDecl
{
	char	   *name;
	int			usage_field;	/* PP_USAGE_MODEL or PP_USAGE_PROVIDER, or -1 */
	int			n_keys;
	char	   *keys[PP_DIM_PATH_MAX];	/* NUL-terminated */
	int			key_lens[PP_DIM_PATH_MAX];
	uint64		id;				/* hash of the name and the declaration */
	bool		live;			/* kept in shared memory (PP_DIM_LIVE) */
} PPDimensionDecl;

typedef struct PPConfig
{
	Oid			schema;			/* the extension's schema */
	Oid			profiles_relid; /* performance_profiles */
	pp_classifier_t *classifier;	/* categories and thresholds */
	PPCatalogEntry *catalog;	/* enabled entries, by type then reduction */
	int			n_catalog;
	PPUsageKey *usage_keys;		/* usage_keys, sorted by pp_usage_prepare */
	int			n_usage_keys;
	PPPrice    *prices;			/* model_prices, in the order they are tried */
	int			n_prices;
	PPDimensionDecl *dimensions;	/* by name, byte order */
	int			n_dimensions;
	int			n_live_dimensions;	/* the first ones, kept in shared memory */
	uint64		dimensions_sig; /* signature of the live declarations */
	MemoryContext cxt;			/* holds all of the above; dropped on reload */
	struct HTAB *suggestion_cache;	/* bottleneck types -> suggestions
									 * (ingest.c) */
} PPConfig;

extern void pp_config_init(void);

/* The configuration of the current database, loaded when it changed. */
extern PPConfig *pp_config_get(void);

/*
 * Identities and signature of the loaded dimensions (src/dimensions.c).
 */
extern void pp_dimensions_prepare(PPConfig *cfg);

/* The declared dimension called name, NULL when there is none. */
extern const PPDimensionDecl *pp_config_dimension(PPConfig *cfg,
												  const char *name);

/* The owner of performance_profiles, as whom ppprof reads its tables. */
extern Oid	pp_config_owner(PPConfig *cfg);

/* The owner of any relation (a partition of performance_profiles). */
extern Oid	pp_config_relation_owner(Oid relid);

#endif							/* PP_CONFIG_H */
