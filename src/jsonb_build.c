/*-------------------------------------------------------------------------
 *
 * src/jsonb_build.c
 *	  Small helpers to build jsonb results value by value.
 *
 * Everything ppprof returns as jsonb (the analysis columns, pp_info, the
 * optimization report) is built as JsonbValues with pushJsonbValue, never
 * by printing JSON text: an operation name with quotes or backslashes is a
 * string value and cannot break the document.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "decimal.h"
#include "jsonb_build.h"

void
pp_jb_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &v);
}

/* A value: in an object after pp_jb_key, or an element of an array. */
static void
push_value(JsonbParseState **st, JsonbValue *v)
{
	pushJsonbValue(st, (*st)->contVal.type == jbvArray ? WJB_ELEM : WJB_VALUE, v);
}

void
pp_jb_string_n(JsonbParseState **st, const char *key, const char *s, size_t len)
{
	JsonbValue	v;

	if (key)
		pp_jb_key(st, key);
	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = (int) len;
	}
	push_value(st, &v);
}

void
pp_jb_string(JsonbParseState **st, const char *key, const char *s)
{
	pp_jb_string_n(st, key, s, s ? strlen(s) : 0);
}

/*
 * The numeric float8_numeric() makes of a finite d -- d printed with DBL_DIG
 * (15) significant digits and read back -- without printing it when
 * pp_double_to_decimal15() can give the digits.
 */
static Numeric
float8_to_numeric(double d)
{
	int64_t		mantissa;
	int			scale;

	if (pp_double_to_decimal15(d, &mantissa, &scale))
		return int64_div_fast_to_numeric(mantissa, scale);
	return DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(d)));
}

/* A double; NaN and infinities become null. */
void
pp_jb_number(JsonbParseState **st, const char *key, double d)
{
	JsonbValue	v;

	if (key)
		pp_jb_key(st, key);
	if (!isfinite(d))
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = float8_to_numeric(d);
	}
	push_value(st, &v);
}

/* A double rounded to 3 decimals (ms to the microsecond). */
void
pp_jb_rounded(JsonbParseState **st, const char *key, double d)
{
	pp_jb_number(st, key, isfinite(d) ? round(d * 1000) / 1000 : d);
}

void
pp_jb_decimal(JsonbParseState **st, const char *key, int64 mantissa, int scale)
{
	JsonbValue	v;

	if (key)
		pp_jb_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_div_fast_to_numeric(mantissa, scale);
	push_value(st, &v);
}

void
pp_jb_int(JsonbParseState **st, const char *key, int64 n)
{
	JsonbValue	v;

	if (key)
		pp_jb_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	push_value(st, &v);
}

void
pp_jb_bool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	if (key)
		pp_jb_key(st, key);
	v.type = jbvBool;
	v.val.boolean = b;
	push_value(st, &v);
}

/* A timestamp as text; 0 and infinite ones become null. */
void
pp_jb_time(JsonbParseState **st, const char *key, TimestampTz t)
{
	/* timestamptz_to_str returns a static buffer: copy it */
	pp_jb_string(st, key, (t == 0 || TIMESTAMP_NOT_FINITE(t)) ? NULL : pstrdup(timestamptz_to_str(t)));
}

void
pp_jb_begin_object(JsonbParseState **st, const char *key)
{
	if (key)
		pp_jb_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
}

void
pp_jb_end_object(JsonbParseState **st)
{
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

void
pp_jb_begin_array(JsonbParseState **st, const char *key)
{
	if (key)
		pp_jb_key(st, key);
	pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
}

void
pp_jb_end_array(JsonbParseState **st)
{
	pushJsonbValue(st, WJB_END_ARRAY, NULL);
}

/* Close the outermost container and return the document. */
Jsonb *
pp_jb_finish(JsonbParseState **st, bool object)
{
	JsonbValue *res = pushJsonbValue(st, object ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);

	return JsonbValueToJsonb(res);
}
