/*-------------------------------------------------------------------------
 *
 * src/usage.c
 *	  Usage of a model call read from a node's metadata, and its cost.
 *
 * Applications write token counts, cost, the model and the time to first
 * token under the names of their library: OpenTelemetry's gen_ai.* keys,
 * OpenInference's llm.*, or plain ones.  usage_keys maps metadata keys to
 * usage fields; it is cached with the rest of the configuration
 * (src/config.c), sorted here like the keys of a Jsonb object (length,
 * then bytes), so that one pass over a node's metadata finds every mapped
 * key with a binary search per key.  A key is matched as it stands:
 * "gen_ai.usage.input_tokens" is one flat key, as OTLP ingest writes
 * attributes (docs/opentelemetry.md), not a path.
 *
 * A mapped value that is not valid -- a number field that is not a finite
 * number in [0, its bound], a model that is not a non-empty string of at
 * most PP_USAGE_MAX_NAME bytes -- is ignored and counted, never an error:
 * the profile is stored and counted all the same.  A null is taken as
 * absent, and not counted.
 *
 * A node's cost is its cost_usd when valid; else, when it has input or
 * output tokens and a model, those tokens at the model_prices row valid at
 * the row's created_at; else it is unknown (counted) when the node has
 * tokens, and there is none when it has neither tokens nor cost.  Tokens
 * are rounded to integers and costs to the nano-USD (PP_NUSD_PER_USD), so
 * that the statistics keep exact int64 sums.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "classify.h"
#include "config.h"
#include "numeric_decode.h"
#include "profile.h"
#include "usage.h"

PG_FUNCTION_INFO_V1(pp_profile_usage);

static const char *const field_names[PP_USAGE_N_FIELDS] = {
	"input_tokens", "output_tokens", "total_tokens", "cost_usd",
	"time_to_first_token_ms", "model", "provider"
};

static const double field_max[PP_USAGE_N_NUMBERS] = {
	PP_USAGE_MAX_TOKENS, PP_USAGE_MAX_TOKENS, PP_USAGE_MAX_TOKENS,
	PP_USAGE_MAX_COST_USD, PP_USAGE_MAX_TTFT_MS
};

const char *
pp_usage_field_name(PPUsageField field)
{
	return field_names[field];
}

bool
pp_usage_field_parse(const char *name, PPUsageField *field)
{
	int			f;

	for (f = 0; f < PP_USAGE_N_FIELDS; f++)
		if (strcmp(name, field_names[f]) == 0)
		{
			*field = (PPUsageField) f;
			return true;
		}
	return false;
}

/* Jsonb's order of object keys: shorter first, then bytes. */
static int
key_cmp(const char *a, int alen, const char *b, int blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

static int
usage_key_qsort(const void *a, const void *b)
{
	const PPUsageKey *ka = a;
	const PPUsageKey *kb = b;

	return key_cmp(ka->key, ka->len, kb->key, kb->len);
}

/*
 * The order in which prices are tried: exact names, then patterns with more
 * literal characters; ties by pattern bytes; of one pattern, the latest
 * valid_from first.  The first row that matches and is valid wins.
 */
static int
price_qsort(const void *a, const void *b)
{
	const PPPrice *pa = a;
	const PPPrice *pb = b;
	int			c;

	if (pa->is_pattern != pb->is_pattern)
		return pa->is_pattern ? 1 : -1;
	if (pa->literal != pb->literal)
		return pa->literal > pb->literal ? -1 : 1;
	c = key_cmp(pa->pattern, pa->len, pb->pattern, pb->len);
	if (c != 0)
		return c;
	if (pa->valid_from != pb->valid_from)
		return pa->valid_from > pb->valid_from ? -1 : 1;
	return 0;
}

void
pp_usage_prepare(PPConfig *cfg)
{
	int			i;

	if (cfg->n_usage_keys > 1)
		qsort(cfg->usage_keys, cfg->n_usage_keys, sizeof(PPUsageKey),
			  usage_key_qsort);
	for (i = 0; i < cfg->n_prices; i++)
	{
		PPPrice    *p = &cfg->prices[i];
		const char *c;

		p->len = (int) strlen(p->pattern);
		p->is_pattern = false;
		p->literal = 0;
		for (c = p->pattern; *c; c++)
		{
			if (*c == '%' || *c == '_')
				p->is_pattern = true;
			else if (*c == '\\')
			{
				p->is_pattern = true;
				p->literal++;
				if (c[1])
					c++;
			}
			else
				p->literal++;
		}
	}
	if (cfg->n_prices > 1)
		qsort(cfg->prices, cfg->n_prices, sizeof(PPPrice), price_qsort);
}

static const PPUsageKey *
find_key(PPConfig *cfg, const char *k, int len)
{
	int			lo = 0,
				hi = cfg->n_usage_keys - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const PPUsageKey *uk = &cfg->usage_keys[mid];
		int			c = key_cmp(k, len, uk->key, uk->len);

		if (c == 0)
			return uk;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return NULL;
}

const PPPrice *
pp_usage_price(PPConfig *cfg, const char *model, int model_len,
			   TimestampTz created_at)
{
	int			i;

	for (i = 0; i < cfg->n_prices; i++)
	{
		const PPPrice *p = &cfg->prices[i];

		if (p->valid_from > created_at)
			continue;
		if (p->is_pattern
			? pp_like_match(p->pattern, model, (size_t) model_len,
							GetDatabaseEncoding() == PG_UTF8)
			: (p->len == model_len && memcmp(p->pattern, model, model_len) == 0))
			return p;
	}
	return NULL;
}

/* One mapped value into u: kept when valid and of a smaller priority. */
static void
take_value(PPUsage *u, int *prio, const PPUsageKey *uk, JEntry je,
		   const char *base, uint32 start, uint32 len)
{
	PPUsageField f = uk->field;

	if (JBE_ISNULL(je))
		return;					/* null says nothing: not counted */
	if (f < PP_USAGE_N_NUMBERS)
	{
		double		d;

		if (!JBE_ISNUMERIC(je))
		{
			u->ignored++;
			return;
		}
		d = pp_numeric_to_double((Numeric) (base + INTALIGN(start)));
		if (!(d >= 0 && d <= field_max[f]))	/* NaN fails too */
		{
			u->ignored++;
			return;
		}
		if (u->has[f] && prio[f] <= uk->priority)
			return;
		u->number[f] = f <= PP_USAGE_TOTAL_TOKENS ? rint(d) : d;
	}
	else
	{
		if (!JBE_ISSTRING(je) || len == 0 || len > PP_USAGE_MAX_NAME)
		{
			u->ignored++;
			return;
		}
		if (u->has[f] && prio[f] <= uk->priority)
			return;
		if (f == PP_USAGE_MODEL)
		{
			u->model = base + start;
			u->model_len = (int) len;
		}
		else
		{
			u->provider = base + start;
			u->provider_len = (int) len;
		}
	}
	u->has[f] = true;
	prio[f] = uk->priority;
}

void
pp_usage_read(PPConfig *cfg, const void *metadata, TimestampTz created_at,
			  PPUsage *u)
{
	const JsonbContainer *obj = metadata;
	int			prio[PP_USAGE_N_FIELDS];
	const char *base;
	uint32		n,
				i,
				offset = 0;
	const PPUsageKey *inline_match[16];
	const PPUsageKey **match = inline_match;
	bool		any = false;

	memset(u, 0, sizeof(*u));
	memset(prio, 0, sizeof(prio));
	if (obj == NULL || cfg->n_usage_keys == 0)
		return;
	n = JsonContainerSize(obj);
	base = (const char *) &obj->children[2 * n];
	if (n > lengthof(inline_match))
		match = palloc(sizeof(PPUsageKey *) * n);

	/* the keys, then their values (the layout of jsonb_source.c) */
	for (i = 0; i < 2 * n; i++)
	{
		JEntry		je = obj->children[i];
		uint32		start = offset;

		JBE_ADVANCE_OFFSET(offset, je);
		if (i < n)
		{
			match[i] = find_key(cfg, base + start, (int) (offset - start));
			any |= match[i] != NULL;
			if (i == n - 1 && !any)
				break;
		}
		else if (match[i - n] != NULL)
			take_value(u, prio, match[i - n], je, base, start, offset - start);
	}
	if (match != inline_match)
		pfree(match);

	if (u->has[PP_USAGE_COST_USD])
	{
		u->cost_source = PP_COST_EXPLICIT;
		u->cost_nusd = (int64) rint(u->number[PP_USAGE_COST_USD] * PP_NUSD_PER_USD);
	}
	else if (u->has[PP_USAGE_INPUT_TOKENS] || u->has[PP_USAGE_OUTPUT_TOKENS] ||
			 u->has[PP_USAGE_TOTAL_TOKENS])
	{
		const PPPrice *p = NULL;
		double		cost = 0;

		if (u->has[PP_USAGE_MODEL] &&
			(u->has[PP_USAGE_INPUT_TOKENS] || u->has[PP_USAGE_OUTPUT_TOKENS]))
			p = pp_usage_price(cfg, u->model, u->model_len, created_at);

		if (p != NULL)
			cost = (u->number[PP_USAGE_INPUT_TOKENS] * p->input_per_million +
					u->number[PP_USAGE_OUTPUT_TOKENS] * p->output_per_million) / 1e6;
		/* a priced cost beyond the bound of one call is not believed */
		if (p != NULL && cost <= PP_USAGE_MAX_COST_USD)
		{
			u->cost_source = PP_COST_PRICED;
			u->cost_nusd = (int64) rint(cost * PP_NUSD_PER_USD);
		}
		else
			u->cost_source = PP_COST_UNKNOWN;
	}
}

static const char *const cost_source_names[] = {
	NULL, "cost_usd", "model_prices", "unknown"
};

/*
 * pp_profile_usage(profile jsonb, at timestamptz) RETURNS SETOF record:
 * per node of the profile whose metadata names any usage (or an ignored
 * value), what ppprof reads there and the cost it gives at at.
 */
Datum
pp_profile_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	PPConfig   *cfg = pp_config_get();
	pp_tree_t	tree;
	pp_error_t	err;
	int32		i;

	InitMaterializedSRF(fcinfo, 0);
	if (!pp_profile_tree(jb, CurrentMemoryContext, &tree, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid profile at %s: %s", err.path, err.text)));
	for (i = 0; i < tree.n_nodes; i++)
	{
		const pp_tree_node_t *tn = &tree.nodes[i];
		PPUsage		u;
		Datum		values[11];
		bool		nulls[11];
		int			f;
		bool		any = false;

		CHECK_FOR_INTERRUPTS();
		pp_usage_read(cfg, tn->metadata, at, &u);
		for (f = 0; f < PP_USAGE_N_FIELDS; f++)
			any |= u.has[f];
		if (!any && u.ignored == 0)
			continue;
		memset(nulls, true, sizeof(nulls));
		values[0] = Int32GetDatum(i);
		nulls[0] = false;
		values[1] = PointerGetDatum(cstring_to_text_with_len(tn->name, (int) tn->name_len));
		nulls[1] = false;
		if (u.has[PP_USAGE_MODEL])
		{
			values[2] = PointerGetDatum(cstring_to_text_with_len(u.model, u.model_len));
			nulls[2] = false;
		}
		if (u.has[PP_USAGE_PROVIDER])
		{
			values[3] = PointerGetDatum(cstring_to_text_with_len(u.provider, u.provider_len));
			nulls[3] = false;
		}
		for (f = 0; f < 3; f++)
			if (u.has[f])
			{
				values[4 + f] = Float8GetDatum(u.number[f]);
				nulls[4 + f] = false;
			}
		if (!u.has[PP_USAGE_TOTAL_TOKENS] &&
			(u.has[PP_USAGE_INPUT_TOKENS] || u.has[PP_USAGE_OUTPUT_TOKENS]))
		{
			values[6] = Float8GetDatum(u.number[PP_USAGE_INPUT_TOKENS] +
									   u.number[PP_USAGE_OUTPUT_TOKENS]);
			nulls[6] = false;
		}
		if (u.cost_source == PP_COST_EXPLICIT || u.cost_source == PP_COST_PRICED)
		{
			values[7] = Float8GetDatum(u.cost_nusd / PP_NUSD_PER_USD);
			nulls[7] = false;
		}
		if (u.cost_source != PP_COST_NONE)
		{
			values[8] = CStringGetTextDatum(cost_source_names[u.cost_source]);
			nulls[8] = false;
		}
		if (u.has[PP_USAGE_TTFT_MS])
		{
			values[9] = Float8GetDatum(u.number[PP_USAGE_TTFT_MS]);
			nulls[9] = false;
		}
		values[10] = Int32GetDatum(u.ignored);
		nulls[10] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}
