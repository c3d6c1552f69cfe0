/*-------------------------------------------------------------------------
 *
 * src/spi_owner.h
 *	  SPI for ppprof's own queries, as the owner of its tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_SPI_OWNER_H
#define PP_SPI_OWNER_H

#include "postgres.h"

typedef struct PPSavedUser
{
	Oid			userid;
	int			sec_context;
	int			guc_nest;		/* GUC nest level of the pinned search_path */
} PPSavedUser;

extern void pp_spi_connect_as(Oid owner, PPSavedUser *saved);
extern void pp_spi_finish_as(const PPSavedUser *saved);

#endif							/* PP_SPI_OWNER_H */
