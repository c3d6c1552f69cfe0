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

#include "ppprof.h"

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
 * (15) significant digits and read back -- without printing and parsing it,
 * which costs about 4,000 instructions a number.
 *
 * For 1e-5 <= |d| < 1e15, x = |d| * 10^k with 10^14 <= x < 10^15 (10^k is
 * exact for k <= 22, and the product is rounded once, by at most half an
 * ulp of x: 1/16).  The 15 digits are x rounded to an integer, unless x's
 * fraction is within 1/8 of one half, where that rounding error could
 * decide: then, and outside that range, the slow way.  Trailing zeros go,
 * as %g drops them, and the digits left after the point are the scale.
 */
static Numeric
float8_to_numeric(double d)
{
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19
	};
	double		a = fabs(d);
	double		x;
	double		frac;
	int64		m;
	int			k;

	if (a == 0)
		return int64_to_numeric(0);
	if (!(a >= 1e-5 && a < 1e15))
		return DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(d)));

	for (k = 0; k < 19 && a * pow10[k] < 1e14; k++)
		;
	x = a * pow10[k];
	frac = x - floor(x);
	if (x >= 1e15 || x < 1e14 || fabs(frac - 0.5) < 0.125)
		return DatumGetNumeric(DirectFunctionCall1(float8_numeric, Float8GetDatum(d)));
	m = (int64) floor(x) + (frac > 0.5 ? 1 : 0);
	while (k > 0 && m % 10 == 0)
	{
		m /= 10;
		k--;
	}
	return int64_div_fast_to_numeric(d < 0 ? -m : m, k);
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
pp_jb_ms(JsonbParseState **st, const char *key, double d)
{
	pp_jb_number(st, key, isfinite(d) ? round(d * 1000) / 1000 : d);
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
