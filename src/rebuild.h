/*-------------------------------------------------------------------------
 *
 * src/rebuild.h
 *	  Rebuilding a database's statistics from performance_profiles.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_REBUILD_H
#define PP_REBUILD_H

#include "postgres.h"

/* Ask a background worker to rebuild dbid's statistics. */
extern void pp_request_rebuild(Oid dbid);

#endif							/* PP_REBUILD_H */
