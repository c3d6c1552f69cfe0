/*-------------------------------------------------------------------------
 *
 * src/core/patterns.h
 *	  Per-node facts about the shape of a profile tree that the statistics
 *	  count at ingest, so that patterns are recognised without re-reading
 *	  profiles at report time.
 *
 *	n_plus_one     a node with at least PP_REPEAT_MIN siblings (itself
 *	               included) of the same operation under one parent: a loop
 *	               of calls that could be one batched call.  A group whose
 *	               calls all have start and end times and overlap in time
 *	               already ran concurrently and is not counted.
 *	parallelizable a parent whose children of one operation type ran one
 *	               after another (their [start_time, end_time] intervals do
 *	               not overlap): running each such group at once would save
 *	               sum - max of its durations.  Children of different types
 *	               are taken as a pipeline (embed, then search, then
 *	               generate), whose steps depend on each other.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_PATTERNS_H
#define PP_PATTERNS_H

#include "tree.h"

#define PP_REPEAT_MIN 3

typedef struct pp_node_shape_t
{
	bool		repeated;		/* in a same-name sibling group of >= PP_REPEAT_MIN */
	bool		repeat_first;	/* the first node of such a group */
	double		parallel_saving_ms; /* for a parent: time its sequential
									 * same-type children would save */
} pp_node_shape_t;

/*
 * Fill shapes[0 .. tree->n_nodes - 1].  type_of(i) gives node i's operation
 * type (any stable string).  Returns PP_OK or PP_ERR_NO_MEMORY.
 */
extern pp_error_code_t pp_tree_shapes(const pp_tree_t *tree,
									  const char *(*type_of) (void *arg, int32_t i),
									  void *arg,
									  const pp_allocator_t *allocator,
									  pp_node_shape_t *shapes);

#endif							/* PP_PATTERNS_H */
