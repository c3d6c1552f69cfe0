/*-------------------------------------------------------------------------
 *
 * src/otlp.c
 *	  OpenTelemetry traces in: pp_otlp_decode walks an OTLP/JSON
 *	  ExportTraceServiceRequest into one row per span, pp_otlp_build makes
 *	  a trace's spans into one profile, pp_otlp_info counts what waits.
 *
 * pp_ingest_otlp (sql/src/otlp.sql) keeps the books in tables; the two
 * steps that touch every span and every attribute are here.
 *
 * The walk reads the request in place (getKeyJsonValueFromContainer, as
 * src/jsonb_source.c does for profiles) and turns each span into the node
 * it will be in its profile, without children: operation_name, start_time
 * and end_time in epoch seconds, duration_ms, metadata (the resource's
 * attributes, then the span's, then ppprof's own "otel." keys) and error.
 * Times are written as exact decimals from the integer nanoseconds, so a
 * duration keeps its nanoseconds.  A request that does not follow the
 * OTLP/JSON shape is one ERROR naming the JSON path; a well-formed span
 * that cannot be a node (a bad id, no start, an end before its start) is
 * a row with its error text, which pp_ingest_otlp counts as rejected.
 *
 * The builder links the spans by parentSpanId under the root (the earliest
 * span without a parent), children in start order.  Until the trace is
 * final it leaves out what does not hang from the root yet; when final it
 * hangs every such fragment (a missing parent, a cycle, a trace without
 * root) from the root, or from the earliest span when there is no root,
 * and marks the root's metadata "otel.incomplete".  A span deeper than
 * ppprof.max_depth is hung from its grandparent ("otel.flattened").  The
 * walk is iterative: a hostile parent chain costs no C recursion.
 *
 * Bounds (docs/opentelemetry.md): at most ppprof.otlp_max_request_spans
 * spans per request (more is an ERROR); per node at most OTLP_MAX_ATTRIBUTES
 * attributes and OTLP_MAX_METADATA_BYTES of them, keys of at most
 * OTLP_MAX_KEY_BYTES, values nested at most OTLP_MAX_VALUE_DEPTH deep (the
 * others are dropped and counted); strings cut to OTLP_MAX_STRING_BYTES.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "config.h"
#include "guc.h"
#include "jsonb_build.h"
#include "otlp.h"
#include "profile.h"
#include "spi_owner.h"

PG_FUNCTION_INFO_V1(pp_otlp_decode);
PG_FUNCTION_INFO_V1(pp_otlp_build);

/*
 * Per node.  128 attributes is the OpenTelemetry SDKs' own default limit;
 * 16 kB of metadata keeps a node a few pages at most however many
 * attributes a span carries (prompts included), so that the pending table
 * is bounded by ppprof.otlp_max_pending_spans times this.
 */
#define OTLP_MAX_ATTRIBUTES		128
#define OTLP_MAX_METADATA_BYTES	16384
#define OTLP_MAX_KEY_BYTES		256
#define OTLP_MAX_STRING_BYTES	4096
#define OTLP_MAX_VALUE_DEPTH	8

/* ppprof's own metadata keys */
#define KEY_SPAN_ID		"otel.span_id"
#define KEY_SPAN_KIND	"otel.span_kind"
#define KEY_SCOPE		"otel.scope"
#define KEY_DROPPED		"otel.dropped_attributes"
#define KEY_TRUNCATED	"otel.truncated_values"
#define KEY_INCOMPLETE	"otel.incomplete"
#define KEY_FLATTENED	"otel.flattened"

/* pp_otlp_span's columns */
enum
{
	COL_ORD,
	COL_TRACE_ID,
	COL_SPAN_ID,
	COL_PARENT_SPAN_ID,
	COL_START_NS,
	COL_NODE,
	COL_NAME_TYPE,
	COL_ERROR,
	NUM_SPAN_COLUMNS
};

static const char *const span_kinds[] = {
	NULL, "internal", "server", "client", "producer", "consumer"
};

/* One converted attribute. */
typedef struct OtlpAttr
{
	const char *key;
	int			key_len;
	JsonbValue	value;			/* a scalar, or jbvBinary */
} OtlpAttr;

/* A node's metadata while it is collected, within the limits. */
typedef struct OtlpMeta
{
	OtlpAttr	attrs[OTLP_MAX_ATTRIBUTES];
	int			n;
	int			bytes;			/* keys and values so far */
	int			dropped;
	int			truncated;
} OtlpMeta;

static void
malformed(const char *path, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid OTLP request at %s: %s", path, what),
			 errdetail("No span of the request was stored."),
			 errhint("The request is an OTLP/JSON ExportTraceServiceRequest: "
					 "{\"resourceSpans\": [{\"resource\": {...}, \"scopeSpans\": [{\"spans\": [...]}]}]}.")));
}

/* key of object c, false when absent or JSON null */
static bool
get_key(JsonbContainer *c, const char *key, JsonbValue *v)
{
	if (getKeyJsonValueFromContainer(c, key, strlen(key), v) == NULL)
		return false;
	return v->type != jbvNull;
}

static JsonbContainer *
expect_container(JsonbValue *v, bool object, const char *path)
{
	if (v->type != jbvBinary ||
		(object ? !JsonContainerIsObject(v->val.binary.data)
		 : !JsonContainerIsArray(v->val.binary.data)))
		malformed(path, object ? "expected an object" : "expected an array");
	return v->val.binary.data;
}

/* key of object c as an object or array; NULL when absent */
static JsonbContainer *
get_container(JsonbContainer *c, const char *key, bool object,
			  const char *path)
{
	JsonbValue	v;

	if (!get_key(c, key, &v))
		return NULL;
	return expect_container(&v, object, psprintf("%s.%s", path, key));
}

static JsonbContainer *
element(JsonbContainer *array, uint32 i, bool object, const char *path,
		const char *key)
{
	JsonbValue *v = getIthJsonbValueFromContainer(array, i);

	return expect_container(v, object, psprintf("%s.%s[%u]", path, key, i));
}

/* key of object c as a string; NULL when absent */
static char *
get_string(JsonbContainer *c, const char *key, int *len, const char *path)
{
	JsonbValue	v;

	if (!get_key(c, key, &v))
		return NULL;
	if (v.type != jbvString)
		malformed(psprintf("%s.%s", path, key), "expected a string");
	*len = v.val.string.len;
	return v.val.string.val;
}

/*
 * A uint64 written as a JSON number or a decimal string (OTLP/JSON allows
 * both for fixed64 and int64); *value = 0 when absent.
 */
static void
get_uint64(JsonbContainer *c, const char *key, uint64 *value, const char *path)
{
	JsonbValue	v;
	const char *s;
	int			len;
	uint64		n = 0;
	int			i;

	*value = 0;
	if (!get_key(c, key, &v))
		return;
	if (v.type == jbvString)
	{
		s = v.val.string.val;
		len = v.val.string.len;
	}
	else if (v.type == jbvNumeric)
	{
		s = DatumGetCString(DirectFunctionCall1(numeric_out,
												NumericGetDatum(v.val.numeric)));
		len = strlen(s);
	}
	else
	{
		malformed(psprintf("%s.%s", path, key),
				  "expected an unsigned integer as a number or a decimal string");
		return;
	}
	for (i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9' ||
			n > (PG_UINT64_MAX - (uint64) (s[i] - '0')) / 10)
			break;
		n = n * 10 + (uint64) (s[i] - '0');
	}
	if (len == 0 || i < len)
		malformed(psprintf("%s.%s", path, key),
				  "expected an unsigned 64-bit integer as a number or a decimal string");
	*value = n;
}

/* A nanosecond Unix time as a TimestampTz (microseconds since 2000). */
static TimestampTz
ns_to_timestamptz(int64 ns)
{
	return (TimestampTz) (ns / 1000) -
		((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY);
}

/* s[0..len) as an int64: an optional '-' and decimal digits */
static bool
parse_int64(const char *s, int len, int64 *out)
{
	bool		neg = len > 0 && s[0] == '-';
	uint64		n = 0;
	int			i;

	if (len <= (neg ? 1 : 0))
		return false;
	for (i = neg ? 1 : 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9' || n > (PG_UINT64_MAX - (uint64) (s[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64) (s[i] - '0');
	}
	if (neg ? n > (uint64) PG_INT64_MAX + 1 : n > (uint64) PG_INT64_MAX)
		return false;
	*out = neg ? (int64) (0 - n) : (int64) n;
	return true;
}

/* key of object c as an integer number (an enum); -1 when absent */
static int64
get_enum(JsonbContainer *c, const char *key, const char *path)
{
	JsonbValue	v;
	char	   *s;
	int64		n;

	if (!get_key(c, key, &v))
		return -1;
	if (v.type != jbvNumeric)
		malformed(psprintf("%s.%s", path, key), "expected an integer");
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	if (!parse_int64(s, strlen(s), &n))
		malformed(psprintf("%s.%s", path, key), "expected an integer");
	return n;
}

/*
 * An OTLP id: 2 * bytes hexadecimal digits, not all zero; lower-cased
 * into a palloc'd string.  NULL when it is not one.
 */
static char *
hex_id(const char *s, int len, int bytes)
{
	char	   *out;
	bool		zero = true;
	int			i;

	if (len != 2 * bytes)
		return NULL;
	out = palloc(len + 1);
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (ch >= 'A' && ch <= 'F')
			ch = ch - 'A' + 'a';
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return NULL;
		if (ch != '0')
			zero = false;
		out[i] = ch;
	}
	out[len] = '\0';
	return zero ? NULL : out;
}

static void
string_value(JsonbValue *out, char *s, int len, OtlpMeta *meta)
{
	if (len > OTLP_MAX_STRING_BYTES)
	{
		len = pg_mbcliplen(s, len, OTLP_MAX_STRING_BYTES);
		meta->truncated++;
	}
	out->type = jbvString;
	out->val.string.val = s;
	out->val.string.len = len;
}

static bool convert_any(JsonbContainer *any, int depth, const char *path,
						JsonbValue *out, OtlpMeta *meta);

/*
 * The values of an arrayValue or the pairs of a kvlistValue as a JSON
 * array or object (jbvBinary); false when too deep.
 */
static bool
convert_list(JsonbContainer *list, bool kv, int depth, const char *path,
			 JsonbValue *out, OtlpMeta *meta)
{
	JsonbParseState *st = NULL;
	JsonbContainer *values = get_container(list, "values", false, path);
	uint32		n = values ? JsonContainerSize(values) : 0;
	uint32		i;
	JsonbValue *res;
	Jsonb	   *jb;

	if (depth >= OTLP_MAX_VALUE_DEPTH)
		return false;
	pushJsonbValue(&st, kv ? WJB_BEGIN_OBJECT : WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < n; i++)
	{
		char	   *epath = psprintf("%s.values[%u]", path, i);
		JsonbContainer *e;
		JsonbValue	v;

		CHECK_FOR_INTERRUPTS();
		if (kv)
		{
			JsonbValue	key;
			char	   *k;
			int			klen = 0;

			e = element(values, i, true, path, "values");
			k = get_string(e, "key", &klen, epath);
			if (k == NULL)
				malformed(epath, "expected a key");
			if (get_key(e, "value", &v))
			{
				if (!convert_any(expect_container(&v, true, psprintf("%s.value", epath)),
								 depth + 1, psprintf("%s.value", epath), &v, meta))
					return false;
			}
			else
				v.type = jbvNull;
			key.type = jbvString;
			key.val.string.val = k;
			key.val.string.len = Min(klen, pg_mbcliplen(k, klen, OTLP_MAX_KEY_BYTES));
			pushJsonbValue(&st, WJB_KEY, &key);
			pushJsonbValue(&st, WJB_VALUE, &v);
		}
		else
		{
			e = element(values, i, true, path, "values");
			if (!convert_any(e, depth + 1, epath, &v, meta))
				return false;
			pushJsonbValue(&st, WJB_ELEM, &v);
		}
	}
	res = pushJsonbValue(&st, kv ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
	jb = JsonbValueToJsonb(res);
	out->type = jbvBinary;
	out->val.binary.data = &jb->root;
	out->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	return true;
}

/*
 * An AnyValue as JSON: strings, booleans and numbers as they are (intValue
 * exact; a non-finite doubleValue as its string "NaN", "Infinity" or
 * "-Infinity"), bytesValue as its base64 text, arrays and key-value lists
 * as arrays and objects, an empty AnyValue as null.  false when nested
 * deeper than OTLP_MAX_VALUE_DEPTH.
 */
static bool
convert_any(JsonbContainer *any, int depth, const char *path, JsonbValue *out,
			OtlpMeta *meta)
{
	JsonbValue	v;
	JsonbContainer *c;

	if (get_key(any, "stringValue", &v))
	{
		if (v.type != jbvString)
			malformed(psprintf("%s.stringValue", path), "expected a string");
		string_value(out, v.val.string.val, v.val.string.len, meta);
	}
	else if (get_key(any, "boolValue", &v))
	{
		if (v.type != jbvBool)
			malformed(psprintf("%s.boolValue", path), "expected a boolean");
		*out = v;
	}
	else if (get_key(any, "intValue", &v))
	{
		int64		n;
		char	   *s = v.type == jbvString ? pnstrdup(v.val.string.val, v.val.string.len)
			: v.type == jbvNumeric ? DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)))
			: NULL;

		if (s == NULL || !parse_int64(s, strlen(s), &n))
			malformed(psprintf("%s.intValue", path),
					  "expected a 64-bit integer as a number or a decimal string");
		out->type = jbvNumeric;
		out->val.numeric = int64_to_numeric(n);
	}
	else if (get_key(any, "doubleValue", &v))
	{
		if (v.type == jbvNumeric)
			*out = v;
		else if (v.type == jbvString &&
				 ((v.val.string.len == 3 && strncmp(v.val.string.val, "NaN", 3) == 0) ||
				  (v.val.string.len == 8 && strncmp(v.val.string.val, "Infinity", 8) == 0) ||
				  (v.val.string.len == 9 && strncmp(v.val.string.val, "-Infinity", 9) == 0)))
			*out = v;
		else
			malformed(psprintf("%s.doubleValue", path),
					  "expected a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
	}
	else if ((c = get_container(any, "arrayValue", true, path)) != NULL)
		return convert_list(c, false, depth, psprintf("%s.arrayValue", path), out, meta);
	else if ((c = get_container(any, "kvlistValue", true, path)) != NULL)
		return convert_list(c, true, depth, psprintf("%s.kvlistValue", path), out, meta);
	else if (get_key(any, "bytesValue", &v))
	{
		if (v.type != jbvString)
			malformed(psprintf("%s.bytesValue", path), "expected a base64 string");
		string_value(out, v.val.string.val, v.val.string.len, meta);
	}
	else
		out->type = jbvNull;
	return true;
}

/* Add the KeyValue list attrs (may be NULL) to meta, within the limits. */
static void
add_attributes(JsonbContainer *attrs, const char *path, OtlpMeta *meta)
{
	uint32		n = attrs ? JsonContainerSize(attrs) : 0;
	uint32		i;

	for (i = 0; i < n; i++)
	{
		char	   *epath;
		JsonbContainer *kv;
		JsonbValue	v;
		char	   *key;
		int			klen = 0;
		int			size;
		OtlpMeta	scratch;

		CHECK_FOR_INTERRUPTS();
		if (meta->n == OTLP_MAX_ATTRIBUTES)
		{
			meta->dropped += n - i;
			return;
		}
		epath = psprintf("%s.attributes[%u]", path, i);
		kv = element(attrs, i, true, path, "attributes");
		key = get_string(kv, "key", &klen, epath);
		if (key == NULL)
			malformed(epath, "expected a key");
		if (klen > OTLP_MAX_KEY_BYTES)
		{
			meta->dropped++;
			continue;
		}
		scratch.truncated = 0;
		if (get_key(kv, "value", &v))
		{
			if (!convert_any(expect_container(&v, true, psprintf("%s.value", epath)),
							 0, psprintf("%s.value", epath), &v, &scratch))
			{
				meta->dropped++;
				continue;
			}
		}
		else
			v.type = jbvNull;
		size = klen + (v.type == jbvString ? v.val.string.len
					   : v.type == jbvBinary ? v.val.binary.len : 8);
		if (meta->bytes + size > OTLP_MAX_METADATA_BYTES)
		{
			meta->dropped++;
			continue;
		}
		meta->bytes += size;
		meta->truncated += scratch.truncated;
		meta->attrs[meta->n].key = key;
		meta->attrs[meta->n].key_len = klen;
		meta->attrs[meta->n].value = v;
		meta->n++;
	}
}

static void
push_key_n(JsonbParseState **st, const char *key, int len)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = len;
	pushJsonbValue(st, WJB_KEY, &k);
}

/* An exact decimal of units / 10^scale: no float, no trailing zeros. */
static void
push_decimal(JsonbParseState **st, const char *key, uint64 units, int scale)
{
	uint64		div = 1;
	char		buf[48];
	int			i;
	int			len;
	JsonbValue	v;

	for (i = 0; i < scale; i++)
		div *= 10;
	len = snprintf(buf, sizeof(buf), "%llu.%0*llu",
				   (unsigned long long) (units / div), scale,
				   (unsigned long long) (units % div));
	while (buf[len - 1] == '0')
		buf[--len] = '\0';
	if (buf[len - 1] == '.')
		buf[--len] = '\0';
	pp_jb_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* The error string of a failed span: status.message, else exception.message, else error.type. */
static char *
span_error(JsonbContainer *span, JsonbContainer *status, const char *path,
		   const OtlpMeta *meta)
{
	char	   *msg;
	int			len = 0;
	JsonbContainer *events;
	uint32		n;
	uint32		i;
	int			a;

	msg = get_string(status, "message", &len, psprintf("%s.status", path));
	if (msg != NULL && len > 0)
		return pnstrdup(msg, pg_mbcliplen(msg, len, OTLP_MAX_STRING_BYTES));
	events = get_container(span, "events", false, path);
	n = events ? JsonContainerSize(events) : 0;
	for (i = 0; i < n; i++)
	{
		char	   *epath = psprintf("%s.events[%u]", path, i);
		JsonbContainer *ev = element(events, i, true, path, "events");
		char	   *name = get_string(ev, "name", &len, epath);
		JsonbContainer *attrs;
		uint32		k;

		if (name == NULL || len != 9 || strncmp(name, "exception", 9) != 0)
			continue;
		attrs = get_container(ev, "attributes", false, epath);
		for (k = 0; attrs != NULL && k < JsonContainerSize(attrs); k++)
		{
			char	   *apath = psprintf("%s.attributes[%u]", epath, k);
			JsonbContainer *kv = element(attrs, k, true, epath, "attributes");
			char	   *key = get_string(kv, "key", &len, apath);
			JsonbContainer *val;

			if (key == NULL || len != 17 || strncmp(key, "exception.message", 17) != 0)
				continue;
			val = get_container(kv, "value", true, apath);
			if (val != NULL &&
				(msg = get_string(val, "stringValue", &len, psprintf("%s.value", apath))) != NULL &&
				len > 0)
				return pnstrdup(msg, pg_mbcliplen(msg, len, OTLP_MAX_STRING_BYTES));
		}
	}
	for (a = meta->n - 1; a >= 0; a--)
		if (meta->attrs[a].key_len == 10 &&
			strncmp(meta->attrs[a].key, "error.type", 10) == 0 &&
			meta->attrs[a].value.type == jbvString)
			return pnstrdup(meta->attrs[a].value.val.string.val,
							meta->attrs[a].value.val.string.len);
	return pstrdup("error");
}

/*
 * One span: its row's values, or its error text (the other columns null).
 * resource holds the resource's attributes.
 */
static void
decode_span(JsonbContainer *span, const char *path, const OtlpMeta *resource,
			const char *scope, int scope_len, PPConfig *cfg,
			Datum *values, bool *nulls)
{
	char	   *s;
	int			len = 0;
	char	   *trace_id = NULL;
	char	   *span_id = NULL;
	char	   *parent_id = NULL;
	char	   *name;
	int			name_len = 0;
	int64		kind;
	uint64		start_ns;
	uint64		end_ns;
	JsonbContainer *status;
	int64		code = -1;
	OtlpMeta   *meta = palloc(sizeof(OtlpMeta));
	const char *reject = NULL;
	JsonbParseState *st = NULL;
	char	   *error = NULL;
	int			i;

	/* read everything first, so that a malformed field is always an ERROR */
	s = get_string(span, "traceId", &len, path);
	if (s != NULL)
		trace_id = hex_id(s, len, 16);
	s = get_string(span, "spanId", &len, path);
	if (s != NULL)
		span_id = hex_id(s, len, 8);
	s = get_string(span, "parentSpanId", &len, path);
	if (s != NULL && len > 0 && strspn(s, "0") < (size_t) len)
	{
		parent_id = hex_id(s, len, 8);
		if (parent_id == NULL)
			reject = "parentSpanId must be empty or 16 hexadecimal digits";
	}
	name = get_string(span, "name", &name_len, path);
	kind = get_enum(span, "kind", path);
	get_uint64(span, "startTimeUnixNano", &start_ns, path);
	get_uint64(span, "endTimeUnixNano", &end_ns, path);
	status = get_container(span, "status", true, path);
	if (status != NULL)
		code = get_enum(status, "code", psprintf("%s.status", path));
	memcpy(meta, resource, sizeof(OtlpMeta));
	add_attributes(get_container(span, "attributes", false, path), path, meta);
	if (code == 2)
		error = span_error(span, status, path, meta);

	if (trace_id == NULL)
		reject = "traceId must be 32 hexadecimal digits, not all zero";
	else if (span_id == NULL)
		reject = "spanId must be 16 hexadecimal digits, not all zero";
	else if (name == NULL || name_len == 0)
		reject = "name must be a non-empty string";
	else if (name_len > pp_max_name_length)
		reject = psprintf("name is longer than ppprof.max_name_length (%d bytes)",
						  pp_max_name_length);
	else if (start_ns == 0)
		reject = "startTimeUnixNano must be set";
	else if (end_ns == 0)
		reject = "endTimeUnixNano must be set";
	else if (end_ns < start_ns)
		reject = "endTimeUnixNano is before startTimeUnixNano";
	else if (end_ns > (uint64) PG_INT64_MAX)
		reject = "endTimeUnixNano is after the year 2262";
	else if ((double) (end_ns - start_ns) / 1e6 > PP_MAX_DURATION_MS)
		reject = "the span lasts more than 1e9 ms";
	else if (ns_to_timestamptz((int64) start_ns) > pp_created_at_limit())
		reject = psprintf("startTimeUnixNano is more than ppprof.max_clock_skew (%d s) in the future",
						  pp_max_clock_skew_s);

	for (i = 0; i < NUM_SPAN_COLUMNS; i++)
		nulls[i] = i != COL_ORD;
	if (reject != NULL)
	{
		nulls[COL_ERROR] = false;
		values[COL_ERROR] = CStringGetTextDatum(psprintf("span %s: %s", path, reject));
		return;
	}

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	pp_jb_string_n(&st, "operation_name", name, name_len);
	push_decimal(&st, "start_time", start_ns, 9);
	push_decimal(&st, "end_time", end_ns, 9);
	push_decimal(&st, "duration_ms", end_ns - start_ns, 6);
	pp_jb_key(&st, "metadata");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < meta->n; i++)
	{
		push_key_n(&st, meta->attrs[i].key, meta->attrs[i].key_len);
		pushJsonbValue(&st, WJB_VALUE, &meta->attrs[i].value);
	}
	pp_jb_string(&st, KEY_SPAN_ID, span_id);
	if (kind > 0 && kind < (int64) lengthof(span_kinds))
		pp_jb_string(&st, KEY_SPAN_KIND, span_kinds[kind]);
	if (scope != NULL && scope_len > 0)
		pp_jb_string_n(&st, KEY_SCOPE, scope, pg_mbcliplen(scope, scope_len, OTLP_MAX_KEY_BYTES));
	if (meta->dropped > 0)
		pp_jb_int(&st, KEY_DROPPED, meta->dropped);
	if (meta->truncated > 0)
		pp_jb_int(&st, KEY_TRUNCATED, meta->truncated);
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	pp_jb_string(&st, "error", error);

	values[COL_TRACE_ID] = CStringGetTextDatum(trace_id);
	values[COL_SPAN_ID] = CStringGetTextDatum(span_id);
	if (parent_id != NULL)
		values[COL_PARENT_SPAN_ID] = CStringGetTextDatum(parent_id);
	values[COL_START_NS] = Int64GetDatum((int64) start_ns);
	values[COL_NODE] = JsonbPGetDatum(pp_jb_finish(&st, true));
	values[COL_NAME_TYPE] = CStringGetTextDatum(pp_classifier_type(cfg->classifier, name, name_len));
	nulls[COL_TRACE_ID] = nulls[COL_SPAN_ID] = false;
	nulls[COL_PARENT_SPAN_ID] = parent_id == NULL;
	nulls[COL_START_NS] = nulls[COL_NODE] = nulls[COL_NAME_TYPE] = false;
}

/*
 * pp_otlp_decode(request jsonb) RETURNS SETOF pp_otlp_span
 *
 * One row per span, in the request's order (ord from 1).
 */
Datum
pp_otlp_decode(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *request;
	PPConfig   *cfg;
	JsonbContainer *resources;
	uint32		n_resources;
	uint32		r;
	int64		n_spans = 0;
	MemoryContext span_cxt;
	MemoryContext old;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("request must not be null")));
	request = PG_GETARG_JSONB_P(0);
	InitMaterializedSRF(fcinfo, 0);
	if (!JB_ROOT_IS_OBJECT(request) || JB_ROOT_IS_SCALAR(request))
		malformed("$", "expected an object");
	cfg = pp_config_get();
	resources = get_container(&request->root, "resourceSpans", false, "$");
	n_resources = resources ? JsonContainerSize(resources) : 0;
	span_cxt = AllocSetContextCreate(CurrentMemoryContext, "ppprof otlp span",
									 ALLOCSET_DEFAULT_SIZES);

	for (r = 0; r < n_resources; r++)
	{
		char	   *rpath = psprintf("$.resourceSpans[%u]", r);
		JsonbContainer *rs = element(resources, r, true, "$", "resourceSpans");
		JsonbContainer *resource = get_container(rs, "resource", true, rpath);
		JsonbContainer *scopes = get_container(rs, "scopeSpans", false, rpath);
		OtlpMeta   *rmeta = palloc0(sizeof(OtlpMeta));
		uint32		sc;

		if (resource != NULL)
			add_attributes(get_container(resource, "attributes", false,
										 psprintf("%s.resource", rpath)),
						   psprintf("%s.resource", rpath), rmeta);
		for (sc = 0; scopes != NULL && sc < JsonContainerSize(scopes); sc++)
		{
			char	   *spath = psprintf("%s.scopeSpans[%u]", rpath, sc);
			JsonbContainer *ss = element(scopes, sc, true, rpath, "scopeSpans");
			JsonbContainer *scope = get_container(ss, "scope", true, spath);
			JsonbContainer *spans = get_container(ss, "spans", false, spath);
			char	   *scope_name = NULL;
			int			scope_len = 0;
			uint32		k;

			if (scope != NULL)
				scope_name = get_string(scope, "name", &scope_len,
										psprintf("%s.scope", spath));
			for (k = 0; spans != NULL && k < JsonContainerSize(spans); k++)
			{
				Datum		values[NUM_SPAN_COLUMNS];
				bool		nulls[NUM_SPAN_COLUMNS];
				char	   *path;

				CHECK_FOR_INTERRUPTS();
				if (++n_spans > pp_otlp_max_request_spans)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("OTLP request has more than %d spans",
									pp_otlp_max_request_spans),
							 errdetail("No span of the request was stored."),
							 errhint("Send smaller batches (the exporter's batch size) or raise ppprof.otlp_max_request_spans.")));
				MemoryContextReset(span_cxt);
				old = MemoryContextSwitchTo(span_cxt);
				path = psprintf("%s.spans[%u]", spath, k);
				values[COL_ORD] = Int32GetDatum((int32) n_spans);
				decode_span(element(spans, k, true, spath, "spans"), path, rmeta,
							scope_name, scope_len, cfg, values, nulls);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				MemoryContextSwitchTo(old);
			}
		}
	}
	MemoryContextDelete(span_cxt);
	return (Datum) 0;
}

/* Spans as the builder sees them. */
typedef struct BuildSpan
{
	text	   *span_id;
	text	   *parent_id;		/* NULL for a root */
	int64		start_ns;
	Jsonb	   *node;
	int			parent;			/* index of the parent span, -1 if absent */
	int			tparent;		/* index of the parent in the profile */
	int			depth;			/* in the profile, root = 1; 0 = not in it */
	int			first_child;	/* in the profile, start order */
	int			next_sibling;
} BuildSpan;

static int
text_cmp(text *a, text *b)
{
	int			la = VARSIZE_ANY_EXHDR(a);
	int			lb = VARSIZE_ANY_EXHDR(b);
	int			c = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(la, lb));

	return c != 0 ? c : (la > lb) - (la < lb);
}

/* start order, then span id */
static int
start_cmp(const void *a, const void *b)
{
	const BuildSpan *x = a;
	const BuildSpan *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return text_cmp(x->span_id, y->span_id);
}

static int
id_cmp(const void *a, const void *b, void *arg)
{
	BuildSpan  *spans = arg;

	return text_cmp(spans[*(const int *) a].span_id, spans[*(const int *) b].span_id);
}

/* index of the span whose id is id, -1 if none (by_id sorted by id) */
static int
find_span(BuildSpan *spans, int *by_id, int n, text *id)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = text_cmp(spans[by_id[mid]].span_id, id);

		if (c == 0)
			return by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static Datum *
array_elements(ArrayType *a, Oid type, int *n, bool **nulls)
{
	Datum	   *elems;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	deconstruct_array(a, type, typlen, typbyval, typalign, &elems, nulls, n);
	return elems;
}

/*
 * Mark the spans that hang from s through the natural links (children
 * lists built by parent) as in the profile, depth by depth, with an
 * explicit stack; a span past ppprof.max_depth moves to its grandparent.
 */
static void
place_subtree(BuildSpan *spans, int *nat_first, int *nat_next, int s,
			  int *stack, bool *flattened)
{
	int			top = 0;

	stack[top++] = s;
	while (top > 0)
	{
		int			i = stack[--top];
		int			c;

		for (c = nat_first[i]; c >= 0; c = nat_next[c])
		{
			if (spans[c].depth != 0)
				continue;		/* placed already: a cycle */
			spans[c].tparent = i;
			if (spans[i].depth >= pp_max_depth)
			{
				spans[c].tparent = spans[i].tparent;
				*flattened = true;
			}
			spans[c].depth = spans[spans[c].tparent].depth + 1;
			stack[top++] = c;
		}
	}
}

/* Push the metadata object of the root with ppprof's marks added. */
static void
push_marked_metadata(JsonbParseState **st, JsonbValue *meta, bool incomplete,
					 bool flattened)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	if (meta->type == jbvBinary && JsonContainerIsObject(meta->val.binary.data))
	{
		it = JsonbIteratorInit(meta->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_KEY || tok == WJB_VALUE)
				pushJsonbValue(st, tok, &v);
	}
	if (incomplete)
		pp_jb_bool(st, KEY_INCOMPLETE, true);
	if (flattened)
		pp_jb_bool(st, KEY_FLATTENED, true);
	pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/* Push node s's keys (not its children); the root's metadata marked. */
static void
push_node_keys(JsonbParseState **st, BuildSpan *s, bool root, bool incomplete,
			   bool flattened)
{
	JsonbIterator *it = JsonbIteratorInit(&s->node->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		is_metadata = false;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			is_metadata = v.val.string.len == 8 &&
				strncmp(v.val.string.val, "metadata", 8) == 0;
			pushJsonbValue(st, WJB_KEY, &v);
		}
		else if (tok == WJB_VALUE)
		{
			if (root && is_metadata && (incomplete || flattened))
				push_marked_metadata(st, &v, incomplete, flattened);
			else
				pushJsonbValue(st, WJB_VALUE, &v);
		}
	}
}

/*
 * pp_otlp_build(span_ids text[], parent_ids text[], start_ns bigint[],
 *				 nodes jsonb[], final boolean,
 *				 OUT profile jsonb, OUT spans text[], OUT created_at timestamptz,
 *				 OUT incomplete boolean)
 *
 * A trace's spans as one profile, and which spans it holds; all nulls when
 * no root has arrived and final is false.  STRICT: a trace without spans
 * (array_agg of nothing) is null.
 */
Datum
pp_otlp_build(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		result[4];
	bool		result_nulls[4] = {true, true, true, true};
	Datum	   *ids;
	Datum	   *parents;
	Datum	   *starts;
	Datum	   *nodes;
	bool	   *ids_nulls;
	bool	   *parents_nulls;
	bool	   *starts_nulls;
	bool	   *nodes_nulls;
	int			n,
				n_parents,
				n_starts,
				n_nodes;
	bool		final;
	BuildSpan  *spans;
	int		   *by_id;
	int		   *nat_first;
	int		   *nat_next;
	int		   *nat_last;
	int		   *stack;
	int		   *last_child;
	int			root = -1;
	bool		incomplete = false;
	bool		flattened = false;
	int			i;
	int			n_in = 0;
	Datum	   *in_ids;
	JsonbParseState *st = NULL;
	int			top;
	int		   *next_child;
	JsonbValue *profile;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "ppprof: pp_otlp_build must return a record");
	desc = BlessTupleDesc(desc);
	ids = array_elements(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, &n, &ids_nulls);
	parents = array_elements(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, &n_parents, &parents_nulls);
	starts = array_elements(PG_GETARG_ARRAYTYPE_P(2), INT8OID, &n_starts, &starts_nulls);
	nodes = array_elements(PG_GETARG_ARRAYTYPE_P(3), JSONBOID, &n_nodes, &nodes_nulls);
	final = PG_GETARG_BOOL(4);
	if (n_parents != n || n_starts != n || n_nodes != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the arrays of pp_otlp_build must have the same length")));
	if (n == 0)
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, result_nulls)));

	spans = palloc0(sizeof(BuildSpan) * n);
	for (i = 0; i < n; i++)
	{
		if (ids_nulls[i] || starts_nulls[i] || nodes_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("span ids, start times and nodes must not be null")));
		spans[i].span_id = DatumGetTextPP(ids[i]);
		spans[i].parent_id = parents_nulls[i] ? NULL : DatumGetTextPP(parents[i]);
		spans[i].start_ns = DatumGetInt64(starts[i]);
		spans[i].node = DatumGetJsonbP(nodes[i]);
	}
	qsort(spans, n, sizeof(BuildSpan), start_cmp);

	/* natural links, children in start order */
	by_id = palloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
		by_id[i] = i;
	qsort_arg(by_id, n, sizeof(int), id_cmp, spans);
	nat_first = palloc(sizeof(int) * n);
	nat_next = palloc(sizeof(int) * n);
	nat_last = palloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
		nat_first[i] = nat_next[i] = nat_last[i] = -1;
	for (i = 0; i < n; i++)
	{
		int			p = spans[i].parent_id ? find_span(spans, by_id, n, spans[i].parent_id) : -1;

		spans[i].parent = p;
		if (spans[i].parent_id == NULL && root < 0)
			root = i;
		if (p < 0)
			continue;
		if (nat_last[p] < 0)
			nat_first[p] = i;
		else
			nat_next[nat_last[p]] = i;
		nat_last[p] = i;
	}
	if (root < 0)
	{
		if (!final)
			PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, result_nulls)));
		/* the earliest span whose parent is missing, else the earliest */
		for (i = 0; i < n && root < 0; i++)
			if (spans[i].parent < 0)
				root = i;
		if (root < 0)
			root = 0;
		incomplete = true;
	}

	stack = palloc(sizeof(int) * n);
	spans[root].depth = 1;
	spans[root].tparent = -1;
	place_subtree(spans, nat_first, nat_next, root, stack, &flattened);
	if (final)
	{
		for (i = 0; i < n; i++)
		{
			if (spans[i].depth != 0)
				continue;
			/* a fragment: hang it from the root */
			incomplete = true;
			spans[i].tparent = root;
			spans[i].depth = 2;
			if (pp_max_depth < 2)
			{
				/* a profile of one level holds the root only */
				flattened = true;
				spans[i].depth = -1;
				continue;
			}
			place_subtree(spans, nat_first, nat_next, i, stack, &flattened);
		}
	}

	/* the profile's children lists, in start order */
	last_child = palloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
		spans[i].first_child = spans[i].next_sibling = last_child[i] = -1;
	in_ids = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		int			p;

		if (spans[i].depth <= 0)
			continue;
		in_ids[n_in++] = PointerGetDatum(spans[i].span_id);
		if (i == root)
			continue;
		p = spans[i].tparent;
		if (last_child[p] < 0)
			spans[p].first_child = i;
		else
			spans[last_child[p]].next_sibling = i;
		last_child[p] = i;
	}

	/* pre-order with an explicit stack: open a node, then its children */
	next_child = palloc(sizeof(int) * n);
	top = 0;
	profile = NULL;
	stack[top++] = root;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_node_keys(&st, &spans[root], true, incomplete, flattened);
	pp_jb_begin_array(&st, "children");
	next_child[root] = spans[root].first_child;
	while (top > 0)
	{
		int			s = stack[top - 1];
		int			c = next_child[s];

		CHECK_FOR_INTERRUPTS();
		if (c < 0)
		{
			pushJsonbValue(&st, WJB_END_ARRAY, NULL);
			profile = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
			top--;
			continue;
		}
		next_child[s] = spans[c].next_sibling;
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		push_node_keys(&st, &spans[c], false, false, false);
		pp_jb_begin_array(&st, "children");
		next_child[c] = spans[c].first_child;
		stack[top++] = c;
	}

	result[0] = JsonbPGetDatum(JsonbValueToJsonb(profile));
	result[1] = PointerGetDatum(construct_array(in_ids, n_in, TEXTOID, -1, false,
												TYPALIGN_INT));
	result[2] = TimestampTzGetDatum(ns_to_timestamptz(spans[root].start_ns));
	result[3] = BoolGetDatum(incomplete);
	result_nulls[0] = result_nulls[1] = result_nulls[2] = result_nulls[3] = false;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, result_nulls)));
}

/*
 * Add the OpenTelemetry counts to pp_info()'s object: spans held for a
 * trace that is still open, whether waiting for their root or parent
 * (pending) or already in its profile, and the pending ones whose grace
 * period is over (orphaned: the next flush stores them as incomplete).
 */
void
pp_otlp_info(JsonbParseState **st)
{
	PPConfig   *cfg = pp_config_get();
	PPSavedUser saved;
	StringInfoData q;
	Datum		args[1];
	Oid			argtypes[1] = {INT8OID};
	int64		counts[3] = {0, 0, 0};
	int			i;

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT pg_catalog.count(DISTINCT s.trace_id),"
					 " pg_catalog.count(*) FILTER (WHERE NOT s.in_profile"
					 "  AND t.first_received_at > pg_catalog.now() - $1 * interval '1 millisecond'),"
					 " pg_catalog.count(*) FILTER (WHERE NOT s.in_profile"
					 "  AND t.first_received_at <= pg_catalog.now() - $1 * interval '1 millisecond')"
					 " FROM %1$s.performance_otlp_spans s"
					 " JOIN %1$s.performance_otlp_traces t ON t.trace_id = s.trace_id",
					 quote_identifier(get_namespace_name(cfg->schema)));
	args[0] = Int64GetDatum(pp_otlp_grace_period_ms);
	pp_spi_connect_as(pp_config_owner(cfg), &saved);
	if (SPI_execute_with_args(q.data, 1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "ppprof: could not count the OpenTelemetry spans");
	for (i = 0; i < 3; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  i + 1, &isnull);

		counts[i] = isnull ? 0 : DatumGetInt64(d);
	}
	pp_spi_finish_as(&saved);
	pp_jb_int(st, "otlp_open_traces", counts[0]);
	pp_jb_int(st, "otlp_pending_spans", counts[1]);
	pp_jb_int(st, "otlp_orphaned_spans", counts[2]);
}
