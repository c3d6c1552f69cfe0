/*-------------------------------------------------------------------------
 *
 * src/dump.h
 *	  The statistics file: written at a clean shutdown, read at start-up.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_DUMP_H
#define PP_DUMP_H

#include "postgres.h"

extern void pp_dump_init(void);

/* A row changed without the statistics: remove the file (once per backend). */
extern void pp_dump_discard(void);

#endif							/* PP_DUMP_H */
