/*-------------------------------------------------------------------------
 *
 * src/spi_owner.c
 *	  SPI for ppprof's own queries: as the owner of its tables (or as the
 *	  caller), security-restricted, with a pinned search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "spi_owner.h"

/*
 * Connect to SPI for a query of ppprof's own, as role owner (InvalidOid: as
 * the caller), security-restricted, with search_path pinned to pg_catalog,
 * pg_temp until pp_spi_finish_as: whatever the caller's search_path, no
 * object of a schema the caller can write (an operator, a function, a
 * collation) can be resolved by the query, and so none runs with the
 * owner's rights.  The queries name ppprof's tables with their schema.
 */
void
pp_spi_connect_as(Oid owner, PPSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(OidIsValid(owner) ? owner : saved->userid,
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	saved->guc_nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ppprof: SPI_connect failed");
}

void
pp_spi_finish_as(const PPSavedUser *saved)
{
	SPI_finish();
	AtEOXact_GUC(true, saved->guc_nest);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}
