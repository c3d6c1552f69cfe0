/*-------------------------------------------------------------------------
 *
 * src/profile.h
 *	  A stored row of performance_profiles as ppprof reads it: its columns,
 *	  its profile walked into a tree, and the tree as observations.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_PROFILE_H
#define PP_PROFILE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "shmem.h"
#include "tree.h"

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
	PP_COL_PPPROF_REJECTED,
	PP_NUM_COLUMNS
} PPColumn;

/* The attribute numbers of the columns in desc, indexed by PPColumn. */
extern const int *pp_profile_columns(TupleDesc desc);

/*
 * Is the row marked rejected (ppprof_rejected not NULL: a profile that
 * arrived by logical replication and is not valid)?  Such a row is stored
 * but counted nowhere.
 */
extern bool pp_profile_rejected(HeapTuple tuple, TupleDesc desc);

/* Does column hold the same value in both tuples (NULL equals NULL)? */
extern bool pp_profile_column_equal(HeapTuple a, HeapTuple b, TupleDesc desc,
									PPColumn column);

/* The latest created_at accepted now: the clock plus ppprof.max_clock_skew. */
extern TimestampTz pp_created_at_limit(void);

/*
 * Walk jb into tree with the ppprof.max_* limits, allocating in cxt.
 * Returns false and fills err when jb is not a valid profile.
 */
extern bool pp_profile_tree(Jsonb *jb, MemoryContext cxt, pp_tree_t *tree,
							pp_error_t *err);

/*
 * The observations of tree's nodes (obs[i] for node i, name NULL: the name
 * is tree->nodes[i].name), with the operation type of node i given by
 * type_of(arg, i), and their usage priced at created_at.
 */
extern void pp_tree_observations(const pp_tree_t *tree, TimestampTz created_at,
								 PPNodeObs *obs,
								 const char *(*type_of) (void *arg, int32_t i),
								 void *arg);

/*
 * A stored profile_data (a jsonb Datum, detoasted here) as observations: its
 * tree and one observation per node, classified with the cached
 * configuration.  Returns false for a profile that is not valid (stored
 * while ppprof was disabled).  Both live until the next call.
 */
extern bool pp_profile_observations(Datum profile, TimestampTz created_at,
									pp_tree_t *tree,
									PPNodeObs **obs);

#endif							/* PP_PROFILE_H */
