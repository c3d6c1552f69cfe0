/*-------------------------------------------------------------------------
 *
 * src/observe.h
 *	  Committed changes of performance_profiles into the statistics.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_OBSERVE_H
#define PP_OBSERVE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "shmem.h"
#include "tree.h"

extern void pp_observe_init(void);

/*
 * Stage the walk of a profile the BEFORE trigger is inserting (types: each
 * node's operation type); the AFTER trigger confirms it.
 */
extern void pp_observe_stage(const pg_uuid_t *id, TimestampTz created_at,
							 double total_ms, const pp_tree_t *tree,
							 const char *const *types, double ingest_us);

/*
 * A replicated row the BEFORE trigger stored as rejected, for the reason
 * given: counted in pp_info() when the transaction commits.
 */
extern void pp_observe_rejected(const char *reason);

/*
 * A stored profile added to or removed from the table without its row
 * triggers (partitions.c), counted at commit like a row change.
 */
extern void pp_observe_stored(PPChangeKind kind, const pg_uuid_t *id,
							  TimestampTz created_at, double total_ms,
							  Datum profile);

/* A row change made while ppprof.enabled was off, and the next one on. */
extern void pp_observe_disabled_write(void);
extern void pp_observe_enabled_write(void);

/* The statistics were rebuilt: forget the rows changed while disabled. */
extern void pp_observe_rebuilt(void);

#endif							/* PP_OBSERVE_H */
