/*-------------------------------------------------------------------------
 *
 * src/jsonb_source.h
 *	  The core walker's pp_tree_source_t over a Jsonb walked in place.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_JSONB_SOURCE_H
#define PP_JSONB_SOURCE_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "tree.h"

extern void pp_jsonb_source_init(pp_tree_source_t *source);
extern const void *pp_jsonb_root_handle(Jsonb *jb);

#endif							/* PP_JSONB_SOURCE_H */
