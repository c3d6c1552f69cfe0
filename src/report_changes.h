/*-------------------------------------------------------------------------
 *
 * src/report_changes.h
 *	  The report's `compared_with` and `changes`: what moved against the
 *	  previous window (or a named baseline), and in the last hour against
 *	  the rest of the window.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_REPORT_CHANGES_H
#define PP_REPORT_CHANGES_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "config.h"
#include "window.h"

/*
 * Write "compared_with" and "changes" into the object being built in *st,
 * for the window w (already read) and, when baseline is not NULL, against
 * that baseline of performance_baselines (an error when it does not exist).
 */
extern void pp_report_changes(JsonbParseState **st, PPConfig *cfg, PPWindow *w,
							  const char *baseline);

#endif							/* PP_REPORT_CHANGES_H */
