/*-------------------------------------------------------------------------
 *
 * src/guc.c
 *	  ppprof's configuration parameters (GUCs).
 *
 * The limits protect the server from hostile or broken profiles; they are
 * superuser-settable so that a client cannot raise them for its session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "ppprof.h"

int			pp_max_depth = 100;
int			pp_max_nodes = 10000;
int			pp_max_name_length = 200;

void
pp_guc_init(void)
{
	DefineCustomIntVariable("ppprof.max_depth",
							"Sets the deepest nesting accepted in a profile (the root is depth 1).",
							NULL,
							&pp_max_depth,
							100, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_nodes",
							"Sets the largest number of nodes accepted in one profile.",
							NULL,
							&pp_max_nodes,
							10000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("ppprof.max_name_length",
							"Sets the longest operation_name accepted, in bytes.",
							NULL,
							&pp_max_name_length,
							200, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("ppprof");
}
