/*-------------------------------------------------------------------------
 *
 * src/ingest.h
 *	  Ingest of profiles: the BEFORE trigger and the pp_ingest functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_INGEST_H
#define PP_INGEST_H

extern void pp_ingest_init(void);

#endif							/* PP_INGEST_H */
