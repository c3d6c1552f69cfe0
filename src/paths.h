/*-------------------------------------------------------------------------
 *
 * src/paths.h
 *	  What the rest of ppprof reads from the call-path statistics of a
 *	  window (src/paths.c): the child operation that holds most of an
 *	  operation's time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_PATHS_H
#define PP_PATHS_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* One child operation's summed durations under an operation */
/*
 * The hash key of a call path in a table of paths: the path it extends
 * (NULL for a root) and its last name.  A table's entries begin with these
 * fields, in this order; keysize covers them.
 */
typedef struct PPPathKey
{
	const void *parent;
	const char *name;
	int			name_len;
} PPPathKey;

extern uint32 pp_path_key_hash(const void *key, Size keysize);
extern int	pp_path_key_match(const void *key1, const void *key2, Size keysize);

typedef struct PPChildTime
{
	char	   *name;			/* NUL-terminated */
	int			name_len;
	double		ms;
} PPChildTime;

typedef struct PPTopChild
{
	const char *name;			/* in: the operation */
	int			name_len;
	double		own_ms;			/* out: its durations, summed over the paths
								 * that end in it */
	const char *child;			/* out: the child operation with the most
								 * time under it, ties to the first name;
								 * NULL when it has no child in the window */
	double		child_ms;		/* out: that child's durations under it */
	PPChildTime *kids;			/* every child operation seen under it */
	int			n_kids;
	int			cap_kids;
} PPTopChild;

/*
 * For each of the n operations, from the call paths of [t0, t1] of the
 * current database (shared buckets and table edges, or the table alone when
 * the shared statistics cannot answer, as pp_path_stats): its summed
 * durations and its children's, summed by child operation over every path.
 * Paths beyond ppprof.max_window_paths are folded and count for neither.
 * Results are allocated in CurrentMemoryContext.
 */
extern void pp_path_top_children(TimestampTz t0, TimestampTz t1,
								 PPTopChild *ops, int n);

#endif							/* PP_PATHS_H */
