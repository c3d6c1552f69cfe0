/*-------------------------------------------------------------------------
 *
 * client/otlp_proto.c
 *	  The OTLP protobuf messages ppprof collect reads and writes: a decoder
 *	  from a binary ExportTraceServiceRequest to its OTLP/JSON form, and
 *	  the encoders of ExportTraceServiceResponse and google.rpc.Status.
 *
 * Written by hand from the protobuf wire format and the field numbers of
 * the OpenTelemetry trace, resource and common messages, for the handful
 * of messages a trace export needs.  Every length and varint is checked
 * against what is left of its message, nesting is bounded, and so is the
 * number of messages a request may make (a two-byte empty message must not
 * cost a hundred bytes of JSON each without end).  Unknown fields of a
 * valid wire type are skipped, as protobuf requires; groups (wire types 3
 * and 4), which no OTLP message uses, make the request undecodable, as
 * does a known field with another wire type than its own.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_proto.h"

#define WT_VARINT 0
#define WT_FIXED64 1
#define WT_LEN 2
#define WT_FIXED32 5

/* what is left of one message */
typedef struct reader
{
	const uint8_t *p;
	const uint8_t *end;
} reader;

/* the decoding of one request */
typedef struct decoder
{
	const uint8_t *base;		/* the request's first byte, for offsets */
	char	   *err;
	size_t		errsize;
	long		messages;		/* messages decoded so far */
	bool		failed;
} decoder;

static bool fail(decoder *d, const uint8_t *at, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static bool
fail(decoder *d, const uint8_t *at, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (d->failed)
		return false;			/* the first problem is the one told */
	d->failed = true;
	va_start(ap, fmt);
	n = vsnprintf(d->err, d->errsize, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t) n < d->errsize)
		snprintf(d->err + n, d->errsize - (size_t) n, " at byte %zu",
				 (size_t) (at - d->base));
	return false;
}

static bool
oom(decoder *d, const uint8_t *at)
{
	return fail(d, at, "out of memory");
}

static bool
read_varint(decoder *d, reader *r, uint64_t *v)
{
	const uint8_t *start = r->p;
	uint64_t	x = 0;
	int			i;

	for (i = 0; i < 10; i++)
	{
		uint8_t		b;

		if (r->p >= r->end)
			return fail(d, start, "truncated varint");
		b = *r->p++;
		if (i == 9 && b > 1)
			return fail(d, start, "varint longer than 64 bits");
		x |= (uint64_t) (b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0)
		{
			*v = x;
			return true;
		}
	}
	return fail(d, start, "varint longer than 10 bytes");
}

static bool
read_fixed(decoder *d, reader *r, int bytes, uint64_t *v)
{
	uint64_t	x = 0;
	int			i;

	if (r->end - r->p < bytes)
		return fail(d, r->p, "truncated fixed%d", bytes * 8);
	for (i = 0; i < bytes; i++)
		x |= (uint64_t) r->p[i] << (8 * i);
	r->p += bytes;
	*v = x;
	return true;
}

/* A length-delimited field's bytes, as a reader of their own. */
static bool
read_len(decoder *d, reader *r, reader *sub)
{
	const uint8_t *start = r->p;
	uint64_t	n;

	if (!read_varint(d, r, &n))
		return false;
	if (n > (uint64_t) (r->end - r->p))
		return fail(d, start, "length %" PRIu64 " beyond the end of its message", n);
	sub->p = r->p;
	sub->end = r->p + n;
	r->p += n;
	return true;
}

/* The next field's number and wire type; false at the end or on error. */
static bool
next_field(decoder *d, reader *r, uint32_t *field, int *wt)
{
	const uint8_t *start = r->p;
	uint64_t	key;

	if (r->p >= r->end)
		return false;
	if (!read_varint(d, r, &key))
		return false;
	*wt = (int) (key & 7);
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return fail(d, start, "invalid field number");
	*field = (uint32_t) (key >> 3);
	return true;
}

static bool
skip_field(decoder *d, reader *r, int wt)
{
	uint64_t	v = 0;
	reader		sub;

	switch (wt)
	{
		case WT_VARINT:
			return read_varint(d, r, &v);
		case WT_FIXED64:
			return read_fixed(d, r, 8, &v);
		case WT_LEN:
			return read_len(d, r, &sub);
		case WT_FIXED32:
			return read_fixed(d, r, 4, &v);
		default:
			return fail(d, r->p, "unsupported wire type %d", wt);
	}
}

static bool
want(decoder *d, reader *r, int wt, int expected, const char *what)
{
	if (wt != expected)
		return fail(d, r->p, "%s has wire type %d, expected %d", what, wt, expected);
	return true;
}

/* Count one more message; false past the bound. */
static bool
count_message(decoder *d, const uint8_t *at)
{
	if (++d->messages > OTLP_PROTO_MAX_MESSAGES)
		return fail(d, at, "more than %d messages in one request", OTLP_PROTO_MAX_MESSAGES);
	return true;
}

/* Set obj[key] = v (stolen); false on out of memory. */
static bool
put(decoder *d, const uint8_t *at, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0)
		return oom(d, at);
	return true;
}

/* A string field: UTF-8, as proto3 requires. */
static bool
put_string(decoder *d, reader *r, int wt, json_t *obj, const char *key)
{
	reader		s;
	json_t	   *v;

	if (!want(d, r, wt, WT_LEN, key) || !read_len(d, r, &s))
		return false;
	v = json_stringn((const char *) s.p, (size_t) (s.end - s.p));
	if (v == NULL)
		return fail(d, s.p, "%s is not UTF-8", key);
	return put(d, s.p, obj, key, v);
}

/* A bytes field as lower-case hex (trace and span ids). */
static bool
put_hex(decoder *d, reader *r, int wt, json_t *obj, const char *key)
{
	static const char digits[] = "0123456789abcdef";
	reader		s;
	size_t		n,
				i;
	char	   *hex;
	json_t	   *v;

	if (!want(d, r, wt, WT_LEN, key) || !read_len(d, r, &s))
		return false;
	n = (size_t) (s.end - s.p);
	hex = malloc(2 * n + 1);
	if (hex == NULL)
		return oom(d, s.p);
	for (i = 0; i < n; i++)
	{
		hex[2 * i] = digits[s.p[i] >> 4];
		hex[2 * i + 1] = digits[s.p[i] & 15];
	}
	hex[2 * n] = '\0';
	v = json_string(hex);
	free(hex);
	return put(d, s.p, obj, key, v);
}

/* A bytes field in base64 (bytesValue), as protobuf's JSON mapping has it. */
static bool
put_base64(decoder *d, reader *r, int wt, json_t *obj, const char *key)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	reader		s;
	size_t		n,
				i;
	char	   *out,
			   *o;
	json_t	   *v;

	if (!want(d, r, wt, WT_LEN, key) || !read_len(d, r, &s))
		return false;
	n = (size_t) (s.end - s.p);
	out = malloc(4 * ((n + 2) / 3) + 1);
	if (out == NULL)
		return oom(d, s.p);
	o = out;
	for (i = 0; i < n; i += 3)
	{
		uint32_t	w = (uint32_t) s.p[i] << 16;

		if (i + 1 < n)
			w |= (uint32_t) s.p[i + 1] << 8;
		if (i + 2 < n)
			w |= s.p[i + 2];
		*o++ = alphabet[(w >> 18) & 63];
		*o++ = alphabet[(w >> 12) & 63];
		*o++ = i + 1 < n ? alphabet[(w >> 6) & 63] : '=';
		*o++ = i + 2 < n ? alphabet[w & 63] : '=';
	}
	*o = '\0';
	v = json_string(out);
	free(out);
	return put(d, s.p, obj, key, v);
}

/* A fixed64 field as a decimal string (times in nanoseconds). */
static bool
put_fixed64(decoder *d, reader *r, int wt, json_t *obj, const char *key)
{
	uint64_t	v = 0;
	char		buf[24];

	if (!want(d, r, wt, WT_FIXED64, key) || !read_fixed(d, r, 8, &v))
		return false;
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return put(d, r->p, obj, key, json_string(buf));
}

/* A varint field as a number: uint32 counts, int32 enums. */
static bool
put_varint(decoder *d, reader *r, int wt, json_t *obj, const char *key, bool is_signed)
{
	uint64_t	v = 0;

	if (!want(d, r, wt, WT_VARINT, key) || !read_varint(d, r, &v))
		return false;
	return put(d, r->p, obj, key,
			   json_integer(is_signed ? (json_int_t) (int32_t) v : (json_int_t) (uint32_t) v));
}

/* obj[key] as an object to decode into (an embedded message merges). */
static json_t *
sub_object(decoder *d, const uint8_t *at, json_t *obj, const char *key)
{
	json_t	   *o = json_object_get(obj, key);

	if (json_is_object(o))
		return o;
	o = json_object();
	if (!put(d, at, obj, key, o))
		return NULL;
	return o;
}

/* A new object appended to the array obj[key] (a repeated message). */
static json_t *
new_element(decoder *d, const uint8_t *at, json_t *obj, const char *key)
{
	json_t	   *a = json_object_get(obj, key);
	json_t	   *o;

	if (!count_message(d, at))
		return NULL;
	if (!json_is_array(a))
	{
		a = json_array();
		if (!put(d, at, obj, key, a))
			return NULL;
	}
	o = json_object();
	if (o == NULL || json_array_append_new(a, o) != 0)
	{
		oom(d, at);
		return NULL;
	}
	return o;
}

typedef bool (*message_fn) (decoder *d, reader *r, json_t *obj, int depth);

/* An embedded message field: into obj[key] (repeated: a new element). */
static bool
message(decoder *d, reader *r, int wt, json_t *obj, const char *key,
		bool repeated, message_fn fn, int depth)
{
	reader		sub;
	json_t	   *o;

	if (!want(d, r, wt, WT_LEN, key) || !read_len(d, r, &sub))
		return false;
	o = repeated ? new_element(d, sub.p, obj, key) : sub_object(d, sub.p, obj, key);
	return o != NULL && fn(d, &sub, o, depth);
}

static bool dec_key_value(decoder *d, reader *r, json_t *obj, int depth);

/* ArrayValue and KeyValueList both hold "values". */
static bool dec_any_value(decoder *d, reader *r, json_t *obj, int depth);

static bool
dec_array_value(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;

	while (next_field(d, r, &f, &wt))
	{
		if (f == 1 ? !message(d, r, wt, obj, "values", true, dec_any_value, depth)
			: !skip_field(d, r, wt))
			return false;
	}
	return !d->failed;
}

static bool
dec_kvlist_value(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;

	while (next_field(d, r, &f, &wt))
	{
		if (f == 1 ? !message(d, r, wt, obj, "values", true, dec_key_value, depth)
			: !skip_field(d, r, wt))
			return false;
	}
	return !d->failed;
}

/* The value keys of AnyValue: one of them at a time (a oneof). */
static const char *const any_keys[] = {
	"stringValue", "boolValue", "intValue", "doubleValue",
	"arrayValue", "kvlistValue", "bytesValue"
};

/* Field f (1..7) of AnyValue is set: drop any other member of the oneof. */
static void
oneof_keep(json_t *obj, uint32_t f)
{
	size_t		i;

	for (i = 0; i < sizeof(any_keys) / sizeof(any_keys[0]); i++)
		if (i + 1 != f)
			json_object_del(obj, any_keys[i]);
}

static bool
dec_any_value(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	uint64_t	v = 0;
	char		buf[32];
	double		x;
	bool		ok;

	if (depth > OTLP_PROTO_MAX_NESTING)
		return fail(d, r->p, "values nested more than %d deep", OTLP_PROTO_MAX_NESTING);
	while (next_field(d, r, &f, &wt))
	{
		if (f >= 1 && f <= 7)
			oneof_keep(obj, f);
		switch (f)
		{
			case 1:
				ok = put_string(d, r, wt, obj, "stringValue");
				break;
			case 2:
				ok = want(d, r, wt, WT_VARINT, "boolValue") && read_varint(d, r, &v) &&
					put(d, r->p, obj, "boolValue", json_boolean(v != 0));
				break;
			case 3:
				ok = want(d, r, wt, WT_VARINT, "intValue") && read_varint(d, r, &v);
				if (ok)
				{
					snprintf(buf, sizeof(buf), "%" PRId64, (int64_t) v);
					ok = put(d, r->p, obj, "intValue", json_string(buf));
				}
				break;
			case 4:
				ok = want(d, r, wt, WT_FIXED64, "doubleValue") && read_fixed(d, r, 8, &v);
				if (ok)
				{
					memcpy(&x, &v, sizeof(x));
					if (isnan(x))
						ok = put(d, r->p, obj, "doubleValue", json_string("NaN"));
					else if (isinf(x))
						ok = put(d, r->p, obj, "doubleValue",
								 json_string(x > 0 ? "Infinity" : "-Infinity"));
					else
						ok = put(d, r->p, obj, "doubleValue", json_real(x));
				}
				break;
			case 5:
				ok = message(d, r, wt, obj, "arrayValue", false, dec_array_value, depth + 1);
				break;
			case 6:
				ok = message(d, r, wt, obj, "kvlistValue", false, dec_kvlist_value, depth + 1);
				break;
			case 7:
				ok = put_base64(d, r, wt, obj, "bytesValue");
				break;
			default:
				ok = skip_field(d, r, wt);
		}
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_key_value(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		if (f == 1)
			ok = put_string(d, r, wt, obj, "key");
		else if (f == 2)
		{
			ok = message(d, r, wt, obj, "value", false, dec_any_value, depth);
			if (ok)
				ok = count_message(d, r->p);
		}
		else
			ok = skip_field(d, r, wt);
		if (!ok)
			return false;
	}
	return !d->failed;
}

/* Resource and InstrumentationScope: attributes and the dropped count. */
static bool
dec_resource(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		if (f == 1)
			ok = message(d, r, wt, obj, "attributes", true, dec_key_value, depth);
		else if (f == 2)
			ok = put_varint(d, r, wt, obj, "droppedAttributesCount", false);
		else
			ok = skip_field(d, r, wt);
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_scope(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		switch (f)
		{
			case 1:
				ok = put_string(d, r, wt, obj, "name");
				break;
			case 2:
				ok = put_string(d, r, wt, obj, "version");
				break;
			case 3:
				ok = message(d, r, wt, obj, "attributes", true, dec_key_value, depth);
				break;
			case 4:
				ok = put_varint(d, r, wt, obj, "droppedAttributesCount", false);
				break;
			default:
				ok = skip_field(d, r, wt);
		}
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_status(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	(void) depth;
	while (next_field(d, r, &f, &wt))
	{
		if (f == 2)
			ok = put_string(d, r, wt, obj, "message");
		else if (f == 3)
			ok = put_varint(d, r, wt, obj, "code", true);
		else
			ok = skip_field(d, r, wt);
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_event(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		switch (f)
		{
			case 1:
				ok = put_fixed64(d, r, wt, obj, "timeUnixNano");
				break;
			case 2:
				ok = put_string(d, r, wt, obj, "name");
				break;
			case 3:
				ok = message(d, r, wt, obj, "attributes", true, dec_key_value, depth);
				break;
			case 4:
				ok = put_varint(d, r, wt, obj, "droppedAttributesCount", false);
				break;
			default:
				ok = skip_field(d, r, wt);
		}
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_span(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	uint64_t	v = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		switch (f)
		{
			case 1:
				ok = put_hex(d, r, wt, obj, "traceId");
				break;
			case 2:
				ok = put_hex(d, r, wt, obj, "spanId");
				break;
			case 3:
				ok = put_string(d, r, wt, obj, "traceState");
				break;
			case 4:
				ok = put_hex(d, r, wt, obj, "parentSpanId");
				break;
			case 5:
				ok = put_string(d, r, wt, obj, "name");
				break;
			case 6:
				ok = put_varint(d, r, wt, obj, "kind", true);
				break;
			case 7:
				ok = put_fixed64(d, r, wt, obj, "startTimeUnixNano");
				break;
			case 8:
				ok = put_fixed64(d, r, wt, obj, "endTimeUnixNano");
				break;
			case 9:
				ok = message(d, r, wt, obj, "attributes", true, dec_key_value, depth);
				break;
			case 10:
				ok = put_varint(d, r, wt, obj, "droppedAttributesCount", false);
				break;
			case 11:
				ok = message(d, r, wt, obj, "events", true, dec_event, depth);
				break;
			case 12:
				ok = put_varint(d, r, wt, obj, "droppedEventsCount", false);
				break;
			case 14:
				ok = put_varint(d, r, wt, obj, "droppedLinksCount", false);
				break;
			case 15:
				ok = message(d, r, wt, obj, "status", false, dec_status, depth);
				break;
			case 16:
				ok = want(d, r, wt, WT_FIXED32, "flags") && read_fixed(d, r, 4, &v) &&
					put(d, r->p, obj, "flags", json_integer((json_int_t) v));
				break;
			default:
				/* 13, links: pp_ingest_otlp does not use them */
				ok = skip_field(d, r, wt);
		}
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_scope_spans(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		if (f == 1)
			ok = message(d, r, wt, obj, "scope", false, dec_scope, depth);
		else if (f == 2)
			ok = message(d, r, wt, obj, "spans", true, dec_span, depth);
		else if (f == 3)
			ok = put_string(d, r, wt, obj, "schemaUrl");
		else
			ok = skip_field(d, r, wt);
		if (!ok)
			return false;
	}
	return !d->failed;
}

static bool
dec_resource_spans(decoder *d, reader *r, json_t *obj, int depth)
{
	uint32_t	f = 0;
	int			wt = 0;
	bool		ok;

	while (next_field(d, r, &f, &wt))
	{
		if (f == 1)
			ok = message(d, r, wt, obj, "resource", false, dec_resource, depth);
		else if (f == 2)
			ok = message(d, r, wt, obj, "scopeSpans", true, dec_scope_spans, depth);
		else if (f == 3)
			ok = put_string(d, r, wt, obj, "schemaUrl");
		else
			ok = skip_field(d, r, wt);
		if (!ok)
			return false;
	}
	return !d->failed;
}

json_t *
otlp_proto_decode(const uint8_t *buf, size_t len, char *err, size_t errsize)
{
	decoder		d = {buf, err, errsize, 0, false};
	reader		r = {buf, buf + len};
	json_t	   *req = json_object();
	json_t	   *spans = json_array();
	uint32_t	f = 0;
	int			wt = 0;

	if (req == NULL || spans == NULL || json_object_set_new(req, "resourceSpans", spans) != 0)
	{
		json_decref(req);
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	while (next_field(&d, &r, &f, &wt))
	{
		if (f == 1 ? !message(&d, &r, wt, req, "resourceSpans", true, dec_resource_spans, 0)
			: !skip_field(&d, &r, wt))
			break;
	}
	if (d.failed)
	{
		json_decref(req);
		return NULL;
	}
	return req;
}

/* ---- encoding ---- */

static size_t
put_varint_bytes(uint8_t *out, uint64_t v)
{
	size_t		n = 0;

	while (v >= 0x80)
	{
		out[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t) v;
	return n;
}

/*
 * A message of a varint field 1 (when given) and a string field 2 (when
 * not NULL nor empty), wrapped as field wrap of an outer message when wrap
 * is not 0.
 */
static size_t
encode_pair(bool has_number, uint64_t number, const char *message, uint32_t wrap,
			uint8_t **out)
{
	size_t		mlen = message ? strlen(message) : 0;
	uint8_t    *buf = malloc(mlen + 48);
	uint8_t	   *inner;
	size_t		n = 0;
	size_t		inner_len = 0;

	*out = buf;
	if (buf == NULL)
		return 0;
	inner = buf + 16;			/* room for the wrapper's key and length */
	if (has_number)
	{
		inner[inner_len++] = 1 << 3 | WT_VARINT;
		inner_len += put_varint_bytes(inner + inner_len, number);
	}
	if (mlen > 0)
	{
		inner[inner_len++] = 2 << 3 | WT_LEN;
		inner_len += put_varint_bytes(inner + inner_len, mlen);
		memcpy(inner + inner_len, message, mlen);
		inner_len += mlen;
	}
	if (wrap == 0)
	{
		memmove(buf, inner, inner_len);
		return inner_len;
	}
	if (inner_len == 0)
		return 0;
	n += put_varint_bytes(buf + n, (uint64_t) wrap << 3 | WT_LEN);
	n += put_varint_bytes(buf + n, inner_len);
	memmove(buf + n, inner, inner_len);
	return n + inner_len;
}

size_t
otlp_proto_response(int64_t rejected, const char *message, uint8_t **out)
{
	return encode_pair(rejected != 0, (uint64_t) rejected, message, 1, out);
}

size_t
otlp_proto_status(int32_t code, const char *message, uint8_t **out)
{
	return encode_pair(code != 0, (uint64_t) (int64_t) code, message, 0, out);
}
