/*-------------------------------------------------------------------------
 *
 * src/timeline.h
 *	  One stored profile laid out on its own timeline, for the flame graph
 *	  of a profile (flamegraph.c) and the exports (export.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_TIMELINE_H
#define PP_TIMELINE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "tree.h"

/* Where one node is drawn.  Times are milliseconds from the root's start. */
typedef struct PPTimelineNode
{
	double		offset_ms;		/* where the profile puts its start */
	double		start_ms;		/* drawn: offset_ms kept within the parent's
								 * drawn interval */
	double		end_ms;			/* drawn: start_ms + duration, same bound */
	bool		timed;			/* placed by its start_time; else after its
								 * previous sibling (sequential fallback) */
	bool		clipped;		/* drawn interval differs from the profile's */
	const char *type;			/* operation type, from operation_categories */
	int32		lane;			/* among its parent's children, 0 first:
								 * siblings of a lane never overlap */
	int32		row;			/* flame graph row, the root's is 0 */
	int32		track;			/* export row (Chrome tid, speedscope
								 * profile), the root's is 0 */
} PPTimelineNode;

typedef struct PPTimeline
{
	pg_uuid_t	id;
	char	   *query_id;		/* NULL when the row has none */
	TimestampTz created_at;
	pp_tree_t	tree;			/* nodes in document pre-order */
	PPTimelineNode *nodes;		/* tree.n_nodes entries, same order */
	int32	   *order;			/* every node, parents first, siblings by
								 * drawn start then document order */
	int32		n_rows;
	int32		n_tracks;
	int32	   *track_parent;	/* n_tracks: the node whose parallel
								 * children opened the track (-1 for 0) */
	int32		n_untimed;		/* nodes placed by the sequential fallback */
	int32		n_clipped;
	double		end_ms;			/* the root's drawn end */
} PPTimeline;

/*
 * Read profile id as the caller (row level security and the caller's
 * privileges apply) and lay it out.  Raises an error when no row visible to
 * the caller has that id, or when its profile is not valid.
 */
extern PPTimeline *pp_timeline_load(pg_uuid_t *id);

/* The uuid as text. */
extern char *pp_timeline_id_text(const PPTimeline *tl);

#endif							/* PP_TIMELINE_H */
