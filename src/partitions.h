/*-------------------------------------------------------------------------
 *
 * src/partitions.h
 *	  The statistics of the rows a partition of performance_profiles takes
 *	  away or brings without a row trigger.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_PARTITIONS_H
#define PP_PARTITIONS_H

#include "postgres.h"

/* Installs the hook that sees TRUNCATE of a partition. */
extern void pp_partitions_init(void);

#endif							/* PP_PARTITIONS_H */
