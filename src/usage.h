/*-------------------------------------------------------------------------
 *
 * src/usage.h
 *	  What a node's metadata says of a model call -- tokens, cost, model,
 *	  time to first token -- through the usage_keys mapping, and its price
 *	  from model_prices.  See src/usage.c and docs/cost.md.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_USAGE_H
#define PP_USAGE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* The fields of usage_keys.usage_field; the numbers first. */
typedef enum PPUsageField
{
	PP_USAGE_INPUT_TOKENS,
	PP_USAGE_OUTPUT_TOKENS,
	PP_USAGE_TOTAL_TOKENS,
	PP_USAGE_COST_USD,
	PP_USAGE_TTFT_MS,
	PP_USAGE_N_NUMBERS,
	PP_USAGE_MODEL = PP_USAGE_N_NUMBERS,
	PP_USAGE_PROVIDER,
	PP_USAGE_N_FIELDS
} PPUsageField;

/* Largest value accepted per number field; a larger one is ignored. */
#define PP_USAGE_MAX_TOKENS		1e12
#define PP_USAGE_MAX_COST_USD	1e6 /* of one call */
#define PP_USAGE_MAX_TTFT_MS	1e9 /* PP_MAX_DURATION_MS */
#define PP_USAGE_MAX_NAME		200 /* bytes of a model or provider name */

/*
 * Token counts are rounded to integers, and costs to the nano-USD, so that
 * the statistics sum them in int64: sums that a deletion takes back
 * exactly.
 */
#define PP_NUSD_PER_USD 1e9

/* Where a node's cost comes from. */
typedef enum PPCostSource
{
	PP_COST_NONE,				/* no tokens and no cost: not a model call */
	PP_COST_EXPLICIT,			/* its metadata's cost_usd */
	PP_COST_PRICED,				/* tokens x model_prices at created_at */
	PP_COST_UNKNOWN				/* tokens, but no model or no price */
} PPCostSource;

/* One row of usage_keys, as the configuration cache holds it. */
typedef struct PPUsageKey
{
	char	   *key;
	int			len;
	PPUsageField field;
	int			priority;		/* smallest wins */
} PPUsageKey;

/* One row of model_prices, as the configuration cache holds it. */
typedef struct PPPrice
{
	char	   *pattern;
	int			len;
	bool		is_pattern;		/* holds %, _ or \ : matched with LIKE */
	int			literal;		/* characters that are not wildcards */
	TimestampTz valid_from;
	double		input_per_million;
	double		output_per_million;
} PPPrice;

/* What one node's metadata says. */
typedef struct PPUsage
{
	bool		has[PP_USAGE_N_FIELDS];
	double		number[PP_USAGE_N_NUMBERS];
	const char *model;			/* not NUL-terminated; points into the
								 * metadata */
	int			model_len;
	const char *provider;
	int			provider_len;
	int			ignored;		/* mapped values that were not valid */
	PPCostSource cost_source;
	int64		cost_nusd;		/* PP_COST_EXPLICIT or PP_COST_PRICED: the
								 * cost in nano-USD (1e-9), rounded */
} PPUsage;

struct PPConfig;

/* Sort the loaded keys and prices for the lookups below (config.c). */
extern void pp_usage_prepare(struct PPConfig *cfg);

/*
 * Read metadata (a JsonbContainer, or NULL) of a node of a row created at
 * created_at into *u, with its cost.
 */
extern void pp_usage_read(struct PPConfig *cfg, const void *metadata,
						  TimestampTz created_at, PPUsage *u);

/* The price row of model at created_at, NULL when none. */
extern const PPPrice *pp_usage_price(struct PPConfig *cfg, const char *model,
									 int model_len, TimestampTz created_at);

extern const char *pp_usage_field_name(PPUsageField field);
extern bool pp_usage_field_parse(const char *name, PPUsageField *field);

#endif							/* PP_USAGE_H */
