/*-------------------------------------------------------------------------
 *
 * client/collect.h
 *	  ppprof collect, the OTLP/HTTP receiver (collect.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PPPROF_COLLECT_H
#define PPPROF_COLLECT_H

#include <stdio.h>

/* ppprof [--dsn DSN] collect [options]: the exit status */
extern int	collect_main(int argc, char **argv, const char *dsn);

extern void collect_usage(FILE *f);

#endif							/* PPPROF_COLLECT_H */
