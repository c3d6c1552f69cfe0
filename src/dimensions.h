/*-------------------------------------------------------------------------
 *
 * src/dimensions.h
 *	  The values of the declared dimensions at ingest, for the shared
 *	  statistics.  See dimensions.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_DIMENSIONS_H
#define PP_DIMENSIONS_H

#include "postgres.h"

#include "config.h"
#include "shmem.h"
#include "tree.h"

/*
 * The values of every node of tree (observations obs, of a row created at
 * at) for the cfg->n_live_dimensions live dimensions: node k's value of
 * dimension d into out[k * n_live_dimensions + d], pointing into the
 * tree's metadata or into memory of the current context.
 */
extern void pp_dimension_values(PPConfig *cfg, const pp_tree_t *tree,
								const PPNodeObs *obs, TimestampTz at,
								PPDimObs *out);

#endif							/* PP_DIMENSIONS_H */
