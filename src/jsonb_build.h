/*-------------------------------------------------------------------------
 *
 * src/jsonb_build.h
 *	  jsonb results built value by value.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_JSONB_BUILD_H
#define PP_JSONB_BUILD_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

extern void pp_jb_key(JsonbParseState **st, const char *key);

/* A value under key in an object, or (key NULL) an element of an array. */
extern void pp_jb_string(JsonbParseState **st, const char *key, const char *s);
extern void pp_jb_string_n(JsonbParseState **st, const char *key,
						   const char *s, size_t len);
extern void pp_jb_number(JsonbParseState **st, const char *key, double d);
/* d rounded to 3 decimals (milliseconds to the microsecond, and the like) */
extern void pp_jb_rounded(JsonbParseState **st, const char *key, double d);
extern void pp_jb_int(JsonbParseState **st, const char *key, int64 n);
/* The exact decimal mantissa / 10^scale. */
extern void pp_jb_decimal(JsonbParseState **st, const char *key, int64 mantissa,
						  int scale);
extern void pp_jb_bool(JsonbParseState **st, const char *key, bool b);
extern void pp_jb_time(JsonbParseState **st, const char *key, TimestampTz t);
extern void pp_jb_begin_object(JsonbParseState **st, const char *key);
extern void pp_jb_end_object(JsonbParseState **st);
extern void pp_jb_begin_array(JsonbParseState **st, const char *key);
extern void pp_jb_end_array(JsonbParseState **st);
extern Jsonb *pp_jb_finish(JsonbParseState **st, bool object);

#endif							/* PP_JSONB_BUILD_H */
