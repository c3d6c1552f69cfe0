/*-------------------------------------------------------------------------
 *
 * src/otlp.h
 *	  OpenTelemetry traces in: the request walker and the tree builder.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_OTLP_H
#define PP_OTLP_H

#include "postgres.h"

#include "utils/jsonb.h"

extern void pp_otlp_info(JsonbParseState **st);

#endif							/* PP_OTLP_H */
