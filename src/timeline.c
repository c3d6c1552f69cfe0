/*-------------------------------------------------------------------------
 *
 * src/timeline.c
 *	  One stored profile laid out on its own timeline: where each node is
 *	  drawn, in which row of the flame graph and in which row of an export.
 *
 * The profile is read as the caller, like a SELECT of the row: row level
 * security and the caller's privileges on performance_profiles decide
 * whether it exists (docs/security.md), with search_path pinned to
 * pg_catalog, pg_temp for the query.  It is walked by the same walker and
 * with the same ppprof.max_* limits as at ingest (profile.c), so a hostile
 * document costs here what it costs there.
 *
 * Time.  Every time is in milliseconds from the root's start, rounded to
 * the microsecond.  A node is placed at its start_time when it has one and
 * so do all its ancestors (offsets are taken parent by parent, so each
 * level may use its own clock origin); otherwise it is placed right after
 * its previous sibling, or at its parent's start when it is the first
 * child: the sequential fallback for profiles without start times.  A node
 * is drawn within its parent's drawn interval (a child that starts before
 * its parent or ends after it, from clock skew or a bad client, is clipped
 * and marked), so a child is never wider than its parent.
 *
 * Lanes.  The children of a node, taken by drawn start then document order,
 * go to the first lane whose last child has ended (greedy interval
 * partitioning, which uses the fewest lanes): siblings in one lane never
 * overlap.  In the flame graph each lane of a node gets its own rows below
 * it, as many as its tallest subtree needs, so parallel children show side
 * by side in time and one above the other, and no two frames overlap.
 *
 * Tracks.  The exports need rows in which events nest (a Chrome thread, a
 * speedscope evented profile).  The root is on track 0; the children of a
 * node's first lane stay on their parent's track (they are sequential and
 * within it); the children of each further lane move together to the
 * lowest other track on which everything placed so far ended before the
 * first of them starts.  Nodes are placed parents first, so whatever is
 * placed later on a track lies either inside a node already there (its
 * descendants) or after all of it, and each track's events nest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "config.h"
#include "profile.h"
#include "spi_owner.h"
#include "timeline.h"

/* Milliseconds rounded to the microsecond. */
static double
round_us(double ms)
{
	return round(ms * 1000.0) / 1000.0;
}

/* Sort children by drawn start, then document order. */
static const PPTimelineNode *sort_nodes;

static int
cmp_start(const void *a, const void *b)
{
	int32		i = *(const int32 *) a;
	int32		j = *(const int32 *) b;

	if (sort_nodes[i].start_ms != sort_nodes[j].start_ms)
		return sort_nodes[i].start_ms < sort_nodes[j].start_ms ? -1 : 1;
	return (i > j) - (i < j);
}

/*
 * Lay out tl->tree: intervals, lanes, rows, tracks and the drawing order.
 * Children of node p are kids[kid_start[p] .. kid_start[p + 1]).
 */
static void
timeline_layout(PPTimeline *tl)
{
	const pp_tree_node_t *tn = tl->tree.nodes;
	int32		n = tl->tree.n_nodes;
	PPTimelineNode *nodes = tl->nodes;
	int32	   *kid_start = palloc0(sizeof(int32) * (n + 1));
	int32	   *kids = palloc(sizeof(int32) * Max(n, 1));
	int32	   *fill = palloc0(sizeof(int32) * (n + 1));
	bool	   *anchored = palloc0(sizeof(bool) * n);
	int32	   *n_lanes = palloc0(sizeof(int32) * n);
	double	   *lane_end = palloc(sizeof(double) * Max(n, 1));
	int32	   *lane_height = palloc0(sizeof(int32) * Max(n, 1));
	int32	   *height = palloc(sizeof(int32) * n);
	double	   *track_end = palloc(sizeof(double) * n);
	double	   *lane_first = palloc(sizeof(double) * Max(n, 1));
	int32	   *lane_track = palloc(sizeof(int32) * Max(n, 1));
	int32	   *stack = palloc(sizeof(int32) * n);
	int32		i,
				k,
				sp,
				done;

	/* children lists, in document order (pre-order numbers grow) */
	for (i = 1; i < n; i++)
		kid_start[tn[i].parent + 1]++;
	for (i = 0; i < n; i++)
		kid_start[i + 1] += kid_start[i];
	for (i = 1; i < n; i++)
	{
		int32		p = tn[i].parent;

		kids[kid_start[p] + fill[p]++] = i;
	}

	/* the root, then each node's children: intervals and lanes */
	nodes[0].offset_ms = 0;
	nodes[0].start_ms = 0;
	nodes[0].end_ms = round_us(tn[0].duration_ms);
	nodes[0].timed = tn[0].has_start;
	anchored[0] = tn[0].has_start;
	tl->end_ms = nodes[0].end_ms;
	for (i = 0; i < n; i++)
	{
		PPTimelineNode *p = &nodes[i];
		double		cursor = p->start_ms;
		int32		lanes = 0;

		CHECK_FOR_INTERRUPTS();
		for (k = kid_start[i]; k < kid_start[i + 1]; k++)
		{
			int32		c = kids[k];
			PPTimelineNode *cn = &nodes[c];
			double		s,
						e;

			anchored[c] = anchored[i] && tn[c].has_start;
			if (anchored[c])
				cn->offset_ms = round_us(p->offset_ms +
										 (tn[c].start_time - tn[i].start_time) * 1000.0);
			else
				cn->offset_ms = cursor;
			cn->timed = anchored[c];
			if (!cn->timed)
				tl->n_untimed++;
			e = round_us(cn->offset_ms + tn[c].duration_ms);
			s = Min(Max(cn->offset_ms, p->start_ms), p->end_ms);
			e = Max(Min(e, p->end_ms), s);
			cn->clipped = (s != cn->offset_ms ||
						   e != round_us(cn->offset_ms + tn[c].duration_ms));
			if (cn->clipped)
				tl->n_clipped++;
			cn->start_ms = s;
			cn->end_ms = e;
			cursor = Max(cursor, e);
		}

		/* lanes: by start, then document order; first lane free */
		sort_nodes = nodes;
		qsort(kids + kid_start[i], kid_start[i + 1] - kid_start[i],
			  sizeof(int32), cmp_start);
		for (k = kid_start[i]; k < kid_start[i + 1]; k++)
		{
			PPTimelineNode *cn = &nodes[kids[k]];
			int32		l;

			for (l = 0; l < lanes; l++)
				if (lane_end[l] <= cn->start_ms)
					break;
			if (l == lanes)
				lanes++;
			lane_end[l] = cn->end_ms;
			cn->lane = l;
		}
		n_lanes[i] = lanes;
	}

	/*
	 * Rows.  A node's height is its own row plus, for each lane of its
	 * children, the height of the lane's tallest child.  Children are
	 * numbered after their parent, so one pass backwards sees every child
	 * before its parent.  lane_height of node p's lanes sits at
	 * kid_start[p] (a node has at least as many children as lanes).
	 */
	for (i = n - 1; i >= 0; i--)
	{
		int32		h = 1;
		int32		l;

		for (l = 0; l < n_lanes[i]; l++)
			h += lane_height[kid_start[i] + l];
		height[i] = h;
		if (i > 0)
		{
			int32		slot = kid_start[tn[i].parent] + nodes[i].lane;

			lane_height[slot] = Max(lane_height[slot], h);
		}
	}
	for (i = 0; i < n; i++)
	{
		int32		l;
		int32		below = 0;

		/* lane_height becomes the first row of each lane, below node i */
		for (l = 0; l < n_lanes[i]; l++)
		{
			int32		h = lane_height[kid_start[i] + l];

			lane_height[kid_start[i] + l] = nodes[i].row + 1 + below;
			below += h;
		}
		for (k = kid_start[i]; k < kid_start[i + 1]; k++)
			nodes[kids[k]].row = lane_height[kid_start[i] + nodes[kids[k]].lane];
	}
	tl->n_rows = height[0];

	/* the drawing order: depth first, children in lane-sorting order */
	tl->order = palloc(sizeof(int32) * n);
	done = 0;
	sp = 0;
	stack[sp++] = 0;
	while (sp > 0)
	{
		int32		v = stack[--sp];

		tl->order[done++] = v;
		for (k = kid_start[v + 1] - 1; k >= kid_start[v]; k--)
			stack[sp++] = kids[k];
	}
	Assert(done == n);

	/* tracks, parents first */
	tl->track_parent = palloc(sizeof(int32) * n);
	tl->track_parent[0] = -1;
	tl->n_tracks = 1;
	track_end[0] = nodes[0].end_ms;
	nodes[0].track = 0;
	for (done = 0; done < n; done++)
	{
		int32		v = tl->order[done];
		int32		l;

		if (n_lanes[v] == 0)
			continue;

		/* each lane's first start and last end (lane_end is free again) */
		for (l = 0; l < n_lanes[v]; l++)
		{
			lane_first[l] = -1;
			lane_end[l] = 0;
		}
		for (k = kid_start[v]; k < kid_start[v + 1]; k++)
		{
			PPTimelineNode *cn = &nodes[kids[k]];

			if (lane_first[cn->lane] < 0)
				lane_first[cn->lane] = cn->start_ms;
			lane_end[cn->lane] = Max(lane_end[cn->lane], cn->end_ms);
		}
		for (l = 0; l < n_lanes[v]; l++)
		{
			int32		t;

			CHECK_FOR_INTERRUPTS();
			if (l == 0)
				t = nodes[v].track;
			else
			{
				for (t = 1; t < tl->n_tracks; t++)
					if (t != nodes[v].track && track_end[t] <= lane_first[l])
						break;
				if (t == tl->n_tracks)
				{
					tl->track_parent[t] = v;
					tl->n_tracks++;
					track_end[t] = lane_end[l];
				}
			}
			track_end[t] = Max(track_end[t], lane_end[l]);
			lane_track[l] = t;
		}
		for (k = kid_start[v]; k < kid_start[v + 1]; k++)
			nodes[kids[k]].track = lane_track[nodes[kids[k]].lane];
	}
}

PPTimeline *
pp_timeline_load(pg_uuid_t *id)
{
	PPConfig   *cfg = pp_config_get();
	MemoryContext outer = CurrentMemoryContext;
	PPTimeline *tl = palloc0(sizeof(PPTimeline));
	PPSavedUser saved;
	StringInfoData q;
	Oid			argtypes[1] = {UUIDOID};
	Datum		args[1];
	Jsonb	   *jb = NULL;
	pp_error_t	err;
	int32		i;

	tl->id = *id;
	args[0] = UUIDPGetDatum(id);
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT profile_data, query_id, created_at"
					 " FROM %s.performance_profiles"
					 " WHERE id OPERATOR(pg_catalog.=) $1",
					 quote_identifier(get_namespace_name(cfg->schema)));

	pp_spi_connect_as(InvalidOid, &saved);
	if (SPI_execute_with_args(q.data, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "ppprof: could not read performance_profiles");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext spi = MemoryContextSwitchTo(outer);

		d = SPI_getbinval(tup, desc, 1, &isnull);
		if (!isnull)
			jb = DatumGetJsonbPCopy(d);
		d = SPI_getbinval(tup, desc, 2, &isnull);
		if (!isnull)
			tl->query_id = TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		tl->created_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
		MemoryContextSwitchTo(spi);
		if (jb == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("profile \"%s\" has no profile_data",
							pp_timeline_id_text(tl))));
	}
	pp_spi_finish_as(&saved);

	if (jb == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("profile \"%s\" does not exist", pp_timeline_id_text(tl)),
				 errdetail("No row of performance_profiles that the current role can read has this id."),
				 errhint("Profile ids are in performance_profiles.id; pp_operation_samples() lists some.")));

	if (!pp_profile_tree(jb, CurrentMemoryContext, &tl->tree, &err))
		ereport(ERROR,
				(errcode(err.code == PP_ERR_TOO_DEEP ||
						 err.code == PP_ERR_TOO_MANY_NODES ||
						 err.code == PP_ERR_NAME_TOO_LONG ?
						 ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_DATA_EXCEPTION),
				 errmsg("profile \"%s\" is not valid at %s: %s",
						pp_timeline_id_text(tl), err.path, err.text),
				 errdetail("It was stored while ppprof was disabled, or before a limit was lowered."),
				 errhint("Fix or delete the row; the ppprof.max_* settings give the limits.")));

	tl->nodes = palloc0(sizeof(PPTimelineNode) * tl->tree.n_nodes);
	for (i = 0; i < tl->tree.n_nodes; i++)
	{
		const pp_tree_node_t *tn = &tl->tree.nodes[i];

		tl->nodes[i].type = pstrdup(pp_classifier_type(cfg->classifier,
													   tn->name, tn->name_len));
	}
	timeline_layout(tl);
	return tl;
}

char *
pp_timeline_id_text(const PPTimeline *tl)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out,
											   UUIDPGetDatum((pg_uuid_t *) &tl->id)));
}
