/*-------------------------------------------------------------------------
 *
 * src/core/classify.c
 *	  Map operation names to operation types and look up thresholds.
 *
 * Rules come in two kinds.  A pattern without an unescaped '%' or '_' is an
 * exact name: it is unescaped ('a\_b' names "a_b") and kept in a hash
 * table.  Any other pattern is kept in an array with its count of literal
 * bytes (an escaped byte counts once, the backslash not at all).  A lookup
 * tries the exact table, then every pattern, keeping the match with the
 * most literal bytes and, on a tie, the pattern that sorts first bytewise
 * (see classify.h).  A rule added again with the same pattern replaces the
 * earlier type.
 *
 * Patterns are kept sorted by rank (most literal bytes first, then
 * bytewise), so the first one that matches is the answer.  Each carries
 * what any name it matches must have: its literal prefix (up to the first
 * wildcard), its literal suffix (after the last) and its shortest length
 * (literal bytes plus '_'), so most patterns cost a length check and a
 * memcmp or two before pp_like_match runs.  The rules are bounded
 * (PP_CLASSIFY_MAX_*, classify.h), so a lookup is bounded too, and it calls
 * the caller's interrupt check every PP_CLASSIFY_CHECK_EVERY patterns.
 *
 * Even so, the same few hundred names come back in every profile, so
 * results are memoized in a bounded table (PP_CLASSIFY_MEMO_MAX entries,
 * names up to PP_CLASSIFY_MEMO_MAX_NAME bytes).  When it is full it is emptied and
 * starts again: no LRU bookkeeping on the hot path, and a working set that
 * fits is kept forever.  Adding a rule empties it too.  A failure to
 * allocate a memo entry is not an error; the name is just not memoized.
 *
 * All three tables (exact names, thresholds, memo) are one open-addressing
 * hash map type with linear probing and FNV-1a hashes; their capacity is a
 * power of two kept at most half full, and entries are never deleted one
 * by one, so no tombstones are needed.
 *
 * Strings returned by pp_classifier_type stay valid until the next
 * pp_classifier_add_rule (the classifier is freed with its allocator's
 * memory: the server's memory context).
 *
 * pp_like_match is the classic two-pointer wildcard matcher: on a mismatch
 * it backtracks only to the last '%' seen, one character further into the
 * subject, so it runs in O(pattern * subject) time and constant space.  As
 * SQL's LIKE in a UTF-8 database, '_' matches one character and '%' any
 * number of them; literal bytes match bytes.  In a database of another
 * encoding (pp_classifier_set_utf8(false)) '_' matches one byte.
 *
 * No PostgreSQL headers; allocation through pp_allocator_t.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "classify.h"

/* One entry of a map; key NULL means empty slot. */
typedef struct pp_map_entry_t
{
	char	   *key;			/* owned copy, NUL-terminated */
	size_t		len;			/* key length in bytes */
	uint64_t	hash;
	union
	{
		const char *str;		/* exact: owned type; memo: borrowed type */
		double		num;		/* thresholds: milliseconds */
	}			value;
} pp_map_entry_t;

typedef struct pp_map_t
{
	pp_map_entry_t *slots;		/* cap slots, NULL until the first insert */
	size_t		cap;			/* a power of two */
	size_t		count;			/* used slots, <= cap / 2 */
	bool		owns_values;	/* free value.str with the key */
} pp_map_t;

typedef struct pp_pattern_t
{
	char	   *pattern;		/* owned, NUL-terminated */
	char	   *type;			/* owned */
	size_t		literal;		/* literal bytes, the rank of the pattern */
	char	   *affix;			/* owned: the unescaped prefix, then suffix */
	size_t		prefix_len;		/* literal bytes before the first wildcard */
	size_t		suffix_len;		/* literal bytes after the last wildcard */
	size_t		min_len;		/* literal bytes plus '_': shortest match */
} pp_pattern_t;

struct pp_classifier_t
{
	const pp_allocator_t *allocator;
	pp_map_t	exact;			/* unescaped name -> type */
	pp_pattern_t *patterns;		/* n_patterns of patterns_cap, by rank */
	size_t		n_patterns;
	size_t		patterns_cap;
	size_t		pattern_bytes;	/* strlen of all patterns */
	pp_map_t	thresholds;		/* name or type -> threshold_ms */
	pp_map_t	memo;			/* name -> type, at most PP_CLASSIFY_MEMO_MAX */
	void		(*check) (void *arg);	/* interrupt check, or NULL */
	void	   *check_arg;
	bool		utf8;			/* names are UTF-8: '_' is one character */
};

#define PP_MAP_INITIAL	16

/* FNV-1a, 64 bits */
static uint64_t
fnv1a64(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static char *
copy_bytes(const pp_allocator_t *a, const char *s, size_t len)
{
	char	   *copy = pp_alloc(a, len + 1);

	if (copy != NULL)
	{
		memcpy(copy, s, len);
		copy[len] = '\0';
	}
	return copy;
}

/*
 * The slot holding key, or the empty slot where it would go.  The map must
 * have slots.
 */
static pp_map_entry_t *
map_slot(const pp_map_t *m, const char *key, size_t len, uint64_t hash)
{
	size_t		mask = m->cap - 1;
	size_t		i = (size_t) hash & mask;

	for (;;)
	{
		pp_map_entry_t *e = &m->slots[i];

		if (e->key == NULL ||
			(e->hash == hash && e->len == len && memcmp(e->key, key, len) == 0))
			return e;
		i = (i + 1) & mask;
	}
}

static pp_map_entry_t *
map_find(const pp_map_t *m, const char *key, size_t len)
{
	pp_map_entry_t *e;

	if (m->count == 0)
		return NULL;
	e = map_slot(m, key, len, fnv1a64(key, len));
	return e->key != NULL ? e : NULL;
}

/* Free every key (and owned value) and forget them; keep the slots. */
static void
map_clear(const pp_allocator_t *a, pp_map_t *m)
{
	size_t		i;

	for (i = 0; i < m->cap && m->count > 0; i++)
	{
		pp_map_entry_t *e = &m->slots[i];

		if (e->key == NULL)
			continue;
		pp_free(a, e->key);
		if (m->owns_values)
			pp_free(a, (void *) e->value.str);
		e->key = NULL;
		m->count--;
	}
}

/*
 * The entry for key, created (key copied, value zeroed) when absent.  NULL
 * when the allocator fails; the map is then unchanged.
 */
static pp_map_entry_t *
map_insert(const pp_allocator_t *a, pp_map_t *m, const char *key, size_t len)
{
	uint64_t	hash = fnv1a64(key, len);
	pp_map_entry_t *e;
	char	   *copy;

	if (m->slots != NULL)
	{
		e = map_slot(m, key, len, hash);
		if (e->key != NULL)
			return e;
	}

	/* grow first, so that the table stays at most half full */
	if ((m->count + 1) * 2 > m->cap)
	{
		size_t		cap = m->cap ? m->cap * 2 : PP_MAP_INITIAL;
		pp_map_entry_t *slots;
		size_t		i;

		if (cap > SIZE_MAX / sizeof(pp_map_entry_t))
			return NULL;
		slots = pp_alloc0(a, cap * sizeof(pp_map_entry_t));
		if (slots == NULL)
			return NULL;
		for (i = 0; i < m->cap; i++)
		{
			pp_map_entry_t *old = &m->slots[i];
			size_t		j = (size_t) old->hash & (cap - 1);

			if (old->key == NULL)
				continue;
			while (slots[j].key != NULL)
				j = (j + 1) & (cap - 1);
			slots[j] = *old;
		}
		pp_free(a, m->slots);
		m->slots = slots;
		m->cap = cap;
	}

	copy = copy_bytes(a, key, len);
	if (copy == NULL)
		return NULL;
	e = map_slot(m, key, len, hash);
	e->key = copy;
	e->len = len;
	e->hash = hash;
	memset(&e->value, 0, sizeof(e->value));
	m->count++;
	return e;
}

/*
 * Scan a pattern: its literal byte count, and whether it has a wildcard.
 * When it has none and unescaped is not NULL, write the name it stands for
 * there (at most strlen(pattern) + 1 bytes) and its length in *unescaped_len.
 */
static bool
pattern_scan(const char *pattern, size_t *literal, char *unescaped,
			 size_t *unescaped_len)
{
	const char *p = pattern;
	bool		wild = false;
	size_t		lit = 0;

	while (*p != '\0')
	{
		char		c = *p++;

		if (c == '%' || c == '_')
		{
			wild = true;
			continue;
		}
		/* a trailing backslash stands for itself */
		if (c == '\\' && *p != '\0')
			c = *p++;
		if (unescaped != NULL)
			unescaped[lit] = c;
		lit++;
	}
	*literal = lit;
	if (unescaped != NULL)
	{
		unescaped[lit] = '\0';
		*unescaped_len = lit;
	}
	return wild;
}

/*
 * The prefilter of a pattern with wildcards: its unescaped literal prefix
 * and suffix into p->affix (one allocation), and its shortest match.
 */
static pp_error_code_t
pattern_affixes(const pp_allocator_t *a, pp_pattern_t *p)
{
	const char *s = p->pattern;
	size_t		plen = strlen(s);
	char	   *prefix = pp_alloc(a, plen + 1);
	char	   *suffix = pp_alloc(a, plen + 1);
	size_t		n_prefix = 0;
	size_t		n_suffix = 0;
	bool		wild = false;

	if (prefix == NULL || suffix == NULL)
	{
		pp_free(a, prefix);
		pp_free(a, suffix);
		return PP_ERR_NO_MEMORY;
	}
	p->min_len = 0;
	while (*s != '\0')
	{
		char		c = *s++;

		if (c == '%' || c == '_')
		{
			wild = true;
			n_suffix = 0;		/* the suffix starts after it */
			if (c == '_')
				p->min_len++;
			continue;
		}
		if (c == '\\' && *s != '\0')
			c = *s++;
		if (!wild)
			prefix[n_prefix++] = c;
		suffix[n_suffix++] = c;
		p->min_len++;
	}
	memcpy(prefix + n_prefix, suffix, n_suffix);
	pp_free(a, suffix);
	p->affix = prefix;
	p->prefix_len = n_prefix;
	p->suffix_len = n_suffix;
	return PP_OK;
}

/* Rank order: most literal bytes first, then bytewise. */
static int
pattern_rank_cmp(const pp_pattern_t *p, size_t literal, const char *pattern)
{
	if (p->literal != literal)
		return p->literal > literal ? -1 : 1;
	return strcmp(p->pattern, pattern);
}

pp_classifier_t *
pp_classifier_create(const pp_allocator_t *allocator)
{
	pp_classifier_t *c;

	if (allocator == NULL)
		allocator = &pp_default_allocator;
	c = pp_alloc0(allocator, sizeof(pp_classifier_t));
	if (c == NULL)
		return NULL;
	c->allocator = allocator;
	c->exact.owns_values = true;
	return c;
}

void
pp_classifier_set_utf8(pp_classifier_t *c, bool utf8)
{
	c->utf8 = utf8;
	map_clear(c->allocator, &c->memo);
}

void
pp_classifier_set_interrupt(pp_classifier_t *c, void (*check) (void *arg),
							void *arg)
{
	c->check = check;
	c->check_arg = arg;
}

pp_error_code_t
pp_classifier_add_rule(pp_classifier_t *c, const char *pattern,
					   const char *operation_type)
{
	const pp_allocator_t *a = c->allocator;
	size_t		plen = strlen(pattern);
	size_t		literal;
	char	   *type;
	size_t		lo;
	size_t		hi;
	pp_pattern_t p;

	/* every cached answer may change */
	map_clear(a, &c->memo);

	if (!pattern_scan(pattern, &literal, NULL, NULL))
	{
		char	   *name = pp_alloc(a, plen + 1);
		size_t		len;
		pp_map_entry_t *e;

		if (name == NULL)
			return PP_ERR_NO_MEMORY;
		pattern_scan(pattern, &literal, name, &len);
		if (c->exact.count >= PP_CLASSIFY_MAX_EXACT &&
			map_find(&c->exact, name, len) == NULL)
		{
			pp_free(a, name);
			return PP_ERR_TOO_MANY_RULES;
		}
		type = copy_bytes(a, operation_type, strlen(operation_type));
		e = type != NULL ? map_insert(a, &c->exact, name, len) : NULL;
		pp_free(a, name);
		if (e == NULL)
		{
			pp_free(a, type);
			return PP_ERR_NO_MEMORY;
		}
		pp_free(a, (void *) e->value.str);
		e->value.str = type;
		return PP_OK;
	}

	/* the pattern's place in rank order, or the pattern itself */
	lo = 0;
	hi = c->n_patterns;
	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;

		if (pattern_rank_cmp(&c->patterns[mid], literal, pattern) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->n_patterns && strcmp(c->patterns[lo].pattern, pattern) == 0)
	{
		type = copy_bytes(a, operation_type, strlen(operation_type));
		if (type == NULL)
			return PP_ERR_NO_MEMORY;
		pp_free(a, c->patterns[lo].type);
		c->patterns[lo].type = type;
		return PP_OK;
	}
	if (c->n_patterns >= PP_CLASSIFY_MAX_PATTERNS ||
		c->pattern_bytes + plen > PP_CLASSIFY_MAX_PATTERN_BYTES)
		return PP_ERR_TOO_MANY_RULES;

	if (c->n_patterns == c->patterns_cap)
	{
		size_t		cap = c->patterns_cap ? c->patterns_cap * 2 : 8;
		pp_pattern_t *grown;

		if ((grown = pp_alloc(a, cap * sizeof(pp_pattern_t))) == NULL)
			return PP_ERR_NO_MEMORY;
		if (c->n_patterns > 0)
			memcpy(grown, c->patterns, c->n_patterns * sizeof(pp_pattern_t));
		pp_free(a, c->patterns);
		c->patterns = grown;
		c->patterns_cap = cap;
	}
	memset(&p, 0, sizeof(p));
	p.literal = literal;
	p.pattern = copy_bytes(a, pattern, plen);
	p.type = copy_bytes(a, operation_type, strlen(operation_type));
	if (p.pattern == NULL || p.type == NULL ||
		pattern_affixes(a, &p) != PP_OK)
	{
		pp_free(a, p.pattern);
		pp_free(a, p.type);
		return PP_ERR_NO_MEMORY;
	}
	memmove(&c->patterns[lo + 1], &c->patterns[lo],
			(c->n_patterns - lo) * sizeof(pp_pattern_t));
	c->patterns[lo] = p;
	c->n_patterns++;
	c->pattern_bytes += plen;
	return PP_OK;
}

pp_error_code_t
pp_classifier_add_threshold(pp_classifier_t *c, const char *name_or_type,
							double threshold_ms)
{
	pp_map_entry_t *e = map_insert(c->allocator, &c->thresholds, name_or_type,
								   strlen(name_or_type));

	if (e == NULL)
		return PP_ERR_NO_MEMORY;
	e->value.num = threshold_ms;
	return PP_OK;
}

/*
 * The rule itself, without the memo: the exact name, else the first
 * pattern in rank order that matches.  Changes nothing (the interrupt
 * check may not return).
 */
static const char *
classify_uncached(const pp_classifier_t *c, const char *name, size_t len)
{
	const pp_map_entry_t *e = map_find(&c->exact, name, len);
	size_t		i;

	if (e != NULL)
		return e->value.str;

	for (i = 0; i < c->n_patterns; i++)
	{
		const pp_pattern_t *p = &c->patterns[i];

		if (c->check != NULL && i % PP_CLASSIFY_CHECK_EVERY == PP_CLASSIFY_CHECK_EVERY - 1)
			c->check(c->check_arg);
		if (len < p->min_len ||
			memcmp(name, p->affix, p->prefix_len) != 0 ||
			memcmp(name + len - p->suffix_len, p->affix + p->prefix_len,
				   p->suffix_len) != 0)
			continue;
		if (pp_like_match(p->pattern, name, len, c->utf8))
			return p->type;
	}
	return PP_TYPE_OTHER;
}

const char *
pp_classifier_type(pp_classifier_t *c, const char *name, size_t len)
{
	const pp_map_entry_t *hit;
	pp_map_entry_t *e;
	const char *type;

	hit = map_find(&c->memo, name, len);
	if (hit != NULL)
		return hit->value.str;

	type = classify_uncached(c, name, len);
	if (len > PP_CLASSIFY_MEMO_MAX_NAME)
		return type;

	if (c->memo.count >= PP_CLASSIFY_MEMO_MAX)
		map_clear(c->allocator, &c->memo);
	e = map_insert(c->allocator, &c->memo, name, len);
	if (e != NULL)
		e->value.str = type;
	return type;
}

bool
pp_classifier_threshold(pp_classifier_t *c, const char *name, size_t len,
						const char *operation_type, double *threshold_ms)
{
	const pp_map_entry_t *e = map_find(&c->thresholds, name, len);

	if (e == NULL && operation_type != NULL)
		e = map_find(&c->thresholds, operation_type, strlen(operation_type));
	if (e == NULL)
		return false;
	*threshold_ms = e->value.num;
	return true;
}

size_t
pp_classifier_memo_size(const pp_classifier_t *c)
{
	return c->memo.count;
}

/*
 * The length of the character at s[0] of a UTF-8 string of len bytes: the
 * length its lead byte announces when that many bytes follow and they are
 * continuation bytes, else 1 (a byte that does not start a character
 * counts as one, as it cannot be in a name stored in a UTF-8 database).
 */
static size_t
utf8_char_len(const char *s, size_t len)
{
	unsigned char c = (unsigned char) s[0];
	size_t		n;
	size_t		k;

	if (c < 0xC2 || c > 0xF4)
		return 1;
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (n > len)
		return 1;
	for (k = 1; k < n; k++)
		if (((unsigned char) s[k] & 0xC0) != 0x80)
			return 1;
	return n;
}

bool
pp_like_match(const char *pattern, const char *s, size_t len, bool utf8)
{
	const char *p = pattern;
	const char *star_p = NULL;	/* pattern just after the last '%' */
	size_t		star_i = 0;		/* subject position that '%' resumes from */
	size_t		i = 0;

	while (i < len)
	{
		if (*p == '%')
		{
			while (*p == '%')
				p++;
			if (*p == '\0')
				return true;
			star_p = p;
			star_i = i;
			continue;
		}
		if (*p == '_')
		{
			p++;
			i += utf8 ? utf8_char_len(s + i, len - i) : 1;
			continue;
		}
		if (*p != '\0')
		{
			char		c = *p;
			size_t		step = 1;

			if (c == '\\' && p[1] != '\0')
			{
				c = p[1];
				step = 2;
			}
			if (c == s[i])
			{
				p += step;
				i++;
				continue;
			}
		}
		/* mismatch: let the last '%' swallow one more character */
		if (star_p == NULL)
			return false;
		p = star_p;
		star_i += utf8 ? utf8_char_len(s + star_i, len - star_i) : 1;
		i = star_i;
	}
	while (*p == '%')
		p++;
	return *p == '\0';
}
