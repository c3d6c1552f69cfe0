/*-------------------------------------------------------------------------
 *
 * test/unit/test_classify.c
 *	  cmocka tests of src/core/classify.c: the LIKE matcher, the rule
 *	  precedence (also against a brute force over random patterns), the
 *	  limits on the rules, the interrupt check, thresholds, the memo and
 *	  allocation failure.
 *
 * pp_like_match is checked on hand-picked cases and then against a naive
 * recursive matcher on every pattern and subject of up to five bytes over a
 * small alphabet.  The allocation failure test runs a fixed script of rules,
 * thresholds and lookups with the allocator failing after N allocations, for
 * every N until the script runs clean, and compares every answer with a
 * classifier built from only the calls that succeeded.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "helpers.h"

/* the classifiers' memory context (helpers.h), released between them */
static pool_t pool;
static pool_t ref_pool;			/* the reference classifier's */

static pp_classifier_t *
new_classifier(void)
{
	pp_classifier_t *c;

	pool_release(&pool);
	pool_init(&pool);
	c = pp_classifier_create(&pool.allocator);
	assert_non_null(c);
	return c;
}

/* What the server does: free every block with the memory context */
static void
free_classifier(pp_classifier_t *c)
{
	(void) c;
	pool_release(&pool);
}

static const char *
type_of(pp_classifier_t *c, const char *name)
{
	return pp_classifier_type(c, name, strlen(name));
}

/* ---------------------------------------------------------------------
 * pp_like_match
 * ---------------------------------------------------------------------
 */
typedef struct like_case_t
{
	const char *pattern;
	const char *subject;
	bool		match;			/* in both modes, unless utf8_match differs */
	int			utf8_match;		/* -1: as match; else the answer when utf8 */
} like_case_t;

static void
test_like_cases(void **state)
{
	static const like_case_t cases[] = {
		{"", "", true, -1},
		{"", "a", false, -1},
		{"a", "", false, -1},
		{"%", "", true, -1},
		{"%", "anything", true, -1},
		{"%%%", "", true, -1},
		{"_", "", false, -1},
		{"_", "a", true, -1},
		{"_", "ab", false, -1},
		{"__", "ab", true, -1},
		{"a_c", "abc", true, -1},
		{"a_c", "ac", false, -1},
		{"abc", "abc", true, -1},
		{"abc", "abd", false, -1},
		{"abc", "abcd", false, -1},
		{"a%", "a", true, -1},
		{"a%", "abc", true, -1},
		{"a%", "ba", false, -1},
		{"%a", "bca", true, -1},
		{"%a", "ab", false, -1},
		{"%b%", "abc", true, -1},
		{"%b%", "ac", false, -1},
		{"a%b%c", "aXbYc", true, -1},
		{"a%b%c", "abbbc", true, -1},
		{"a%b%c", "acb", false, -1},
		{"%a%a", "aa", true, -1},
		{"%a%a", "a", false, -1},
		{"_%", "", false, -1},
		{"_%", "x", true, -1},
		{"%_", "x", true, -1},
		{"%_%_%", "x", false, -1},
		{"%_%_%", "xy", true, -1},
		{"db.%", "db.query", true, -1},
		{"db.%", "db", false, -1},
		/* backslash escapes the next byte */
		{"a\\%b", "a%b", true, -1},
		{"a\\%b", "axb", false, -1},
		{"a\\_b", "a_b", true, -1},
		{"a\\_b", "axb", false, -1},
		{"\\\\", "\\", true, -1},
		{"\\\\%", "\\abc", true, -1},
		{"\\a", "a", true, -1},
		{"%\\%", "100%", true, -1},
		{"%\\%", "100", false, -1},
		/* a trailing backslash stands for itself */
		{"a\\", "a\\", true, -1},
		{"a\\", "a", false, -1},
		/* '_' is one byte, or one character of UTF-8 as SQL's LIKE has it */
		{"_", "\xc3\xa9", false, true},
		{"__", "\xc3\xa9", true, false},
		{"%\xc3\xa9", "caf\xc3\xa9", true, -1},
		{"caf_", "caf\xc3\xa9", false, true},
		{"_\xa9", "\xc3\xa9", true, false},
		{"%_", "\xc3\xa9", true, -1},
		{"_", "\xe2\x82\xac", false, true},	/* 3 bytes */
		{"_", "\xf0\x9f\x98\x80", false, true},	/* 4 bytes */
		{"a_b", "a\xf0\x9f\x98\x80" "b", false, true},
		{"%_b", "\xf0\x9f\x98\x80" "b", true, -1},
		{"%\x80" "b", "\xf0\x9f\x98\x80" "b", true, false},
		/* bytes that do not form a character count one each */
		{"__", "\xc3x", true, -1},
		{"_", "\xc3", true, -1},
		{"_", "\xa9", true, -1},
		{"__", "\xe2\x82", true, -1},
	};
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const like_case_t *k = &cases[i];
		bool		utf8_match = k->utf8_match < 0 ? k->match : k->utf8_match;

		if (pp_like_match(k->pattern, k->subject, strlen(k->subject), false) != k->match)
			fail_msg("'%s' LIKE '%s' (bytes) should be %s", k->subject, k->pattern,
					 k->match ? "true" : "false");
		if (pp_like_match(k->pattern, k->subject, strlen(k->subject), true) != utf8_match)
			fail_msg("'%s' LIKE '%s' (UTF-8) should be %s", k->subject, k->pattern,
					 utf8_match ? "true" : "false");
	}
}

static void
test_like_length(void **state)
{
	(void) state;
	/* the subject is bounded by len, not by a NUL */
	assert_true(pp_like_match("abc", "abcdef", 3, true));
	assert_false(pp_like_match("abcd", "abcdef", 3, true));
	assert_true(pp_like_match("%c", "abcdef", 3, true));
	assert_true(pp_like_match("", "abcdef", 0, true));
	assert_true(pp_like_match("%", NULL, 0, true));
	/* NUL bytes inside the subject are ordinary bytes */
	assert_true(pp_like_match("a_b", "a\0b", 3, true));
	assert_true(pp_like_match("a%", "a\0b", 3, true));
	assert_false(pp_like_match("a", "a\0b", 3, true));
}

static void
test_like_no_blowup(void **state)
{
	size_t		n = 200000;
	char	   *s = malloc(n);
	clock_t		t0 = clock();

	(void) state;
	assert_non_null(s);
	memset(s, 'a', n);
	/* exponential for a naive backtracking matcher */
	assert_false(pp_like_match("%a%a%a%a%a%a%a%a%a%a%a%a%b", s, n, true));
	assert_false(pp_like_match("%aaaaaaaaaaaaaaaaaaaab%", s, n, true));
	assert_true(pp_like_match("%a%a%a%a%a%a%a%a%a%a%a%a%", s, n, true));
	assert_true(pp_like_match("%a_a%", s, n, true));
	s[n - 1] = 'b';
	assert_true(pp_like_match("%a%a%a%a%a%a%a%a%a%a%a%a%b", s, n, true));
	/* generous: each call is linear here, and tiny even under ASan */
	assert_true((double) (clock() - t0) / CLOCKS_PER_SEC < 10.0);
	free(s);
}

/*
 * A character of UTF-8 in the definition's own words: a lead byte
 * C2..DF, E0..EF or F0..F4 with 1, 2 or 3 continuation bytes (80..BF) after
 * it; any other byte, or a lead byte without its continuation bytes, is a
 * character of one byte.
 */
static size_t
definition_char_len(const char *s, size_t len, bool utf8)
{
	unsigned char c = (unsigned char) s[0];
	size_t		want;

	if (!utf8)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		want = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		want = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		want = 4;
	else
		return 1;
	if (len < want)
		return 1;
	for (size_t k = 1; k < want; k++)
		if ((unsigned char) s[k] < 0x80 || (unsigned char) s[k] > 0xBF)
			return 1;
	return want;
}

/*
 * The definition, as a naive recursion (fine on short inputs): '%' any
 * number of characters, '_' one, a literal (or escaped) byte itself.
 */
static bool
naive_like(const char *p, const char *s, size_t len, bool utf8)
{
	if (*p == '\0')
		return len == 0;
	if (*p == '%')
	{
		size_t		k = 0;

		for (;;)
		{
			if (naive_like(p + 1, s + k, len - k, utf8))
				return true;
			if (k == len)
				return false;
			k += definition_char_len(s + k, len - k, utf8);
		}
	}
	if (len == 0)
		return false;
	if (*p == '_')
	{
		size_t		c = definition_char_len(s, len, utf8);

		return naive_like(p + 1, s + c, len - c, utf8);
	}
	if (*p == '\\' && p[1] != '\0')
		return p[1] == *s && naive_like(p + 2, s + 1, len - 1, utf8);
	return *p == *s && naive_like(p + 1, s + 1, len - 1, utf8);
}

/*
 * Fill buf with the k-th string of at most max_len symbols of alphabet (n
 * symbols, each a string of bytes); returns its length in bytes.
 */
static size_t
nth_string(const char *const *alphabet, size_t n, size_t k, size_t max_len,
		   char *buf)
{
	size_t		len = 0;
	size_t		count = 1;
	size_t		bytes = 0;

	/* strings of length 0, then 1, ... */
	while (len <= max_len && k >= count)
	{
		k -= count;
		len++;
		count *= n;
	}
	for (size_t i = 0; i < len; i++)
	{
		size_t		l = strlen(alphabet[k % n]);

		memcpy(buf + bytes, alphabet[k % n], l);
		bytes += l;
		k /= n;
	}
	buf[bytes] = '\0';
	return bytes;
}

/* Every pattern of up to 5 symbols against every subject of up to 4. */
static void
like_exhaustive(const char *const *palpha, size_t np,
				const char *const *salpha, size_t ns, bool utf8)
{
	size_t		n_patterns = 1 + np + np * np + np * np * np +
		np * np * np * np + np * np * np * np * np;
	size_t		n_subjects = 1 + ns + ns * ns + ns * ns * ns + ns * ns * ns * ns;

	for (size_t pi = 0; pi < n_patterns; pi++)
	{
		char		pattern[32];

		nth_string(palpha, np, pi, 5, pattern);
		for (size_t si = 0; si < n_subjects; si++)
		{
			char		subject[32];
			size_t		len = nth_string(salpha, ns, si, 4, subject);
			bool		got = pp_like_match(pattern, subject, len, utf8);

			if (got != naive_like(pattern, subject, len, utf8))
				fail_msg("'%s' LIKE '%s' (%s): matcher %d, definition %d",
						 subject, pattern, utf8 ? "UTF-8" : "bytes", got, !got);
		}
	}
}

static void
test_like_exhaustive(void **state)
{
	static const char *const ascii[] = {"a", "b", "%", "_", "\\"};
	/* characters of 1 to 4 bytes, and bytes that are no character alone */
	static const char *const utf8_subjects[] = {
		"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xa9"
	};
	static const char *const utf8_patterns[] = {
		"a", "%", "_", "\xc3\xa9", "\xa9"
	};

	(void) state;
	like_exhaustive(ascii, 5, ascii, 5, false);
	like_exhaustive(ascii, 5, ascii, 5, true);
	like_exhaustive(utf8_patterns, 5, utf8_subjects, 6, true);
	like_exhaustive(utf8_patterns, 5, utf8_subjects, 6, false);
}

/* ---------------------------------------------------------------------
 * Rules
 * ---------------------------------------------------------------------
 */
static void
test_default_other(void **state)
{
	pp_classifier_t *c = new_classifier();

	(void) state;
	assert_string_equal(type_of(c, "anything"), PP_TYPE_OTHER);
	assert_string_equal(type_of(c, ""), "other");
	assert_int_equal(pp_classifier_add_rule(c, "db.%", "db"), PP_OK);
	assert_string_equal(type_of(c, "http.get"), "other");
	assert_string_equal(type_of(c, "db."), "db");
	free_classifier(c);
}

static void
test_exact_wins(void **state)
{
	pp_classifier_t *c = new_classifier();

	(void) state;
	assert_int_equal(pp_classifier_add_rule(c, "db.query.select%", "long"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "db.query", "exact"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "db.%", "pattern"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "%", "anything"), PP_OK);
	assert_string_equal(type_of(c, "db.query"), "exact");
	assert_string_equal(type_of(c, "db.queries"), "pattern");
	assert_string_equal(type_of(c, "db.query.select.1"), "long");
	assert_string_equal(type_of(c, "zzz"), "anything");

	/* names are not NUL-terminated */
	assert_string_equal(pp_classifier_type(c, "db.queryXYZ", 8), "exact");
	assert_string_equal(pp_classifier_type(c, "db.queryXYZ", 9), "pattern");

	/* an escaped wildcard makes an exact name */
	assert_int_equal(pp_classifier_add_rule(c, "a\\_b", "escaped"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "100\\%", "percent"), PP_OK);
	assert_string_equal(type_of(c, "a_b"), "escaped");
	assert_string_equal(type_of(c, "axb"), "anything");
	assert_string_equal(type_of(c, "a\\_b"), "anything");
	assert_string_equal(type_of(c, "100%"), "percent");
	free_classifier(c);
}

static void
test_most_literal_wins(void **state)
{
	pp_classifier_t *c = new_classifier();

	(void) state;
	assert_int_equal(pp_classifier_add_rule(c, "%get%", "three"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "http.%", "five"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "http.get%", "eight"), PP_OK);
	assert_string_equal(type_of(c, "http.get.user"), "eight");
	assert_string_equal(type_of(c, "http.post"), "five");
	assert_string_equal(type_of(c, "xgetx"), "three");

	/* '_' is not a literal byte; an escaped byte is one */
	assert_int_equal(pp_classifier_add_rule(c, "a_c", "a_c"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "a%", "a%"), PP_OK);
	assert_string_equal(type_of(c, "abc"), "a_c");
	assert_int_equal(pp_classifier_add_rule(c, "q\\%%", "escaped"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "q%%", "plain"), PP_OK);
	assert_string_equal(type_of(c, "q%x"), "escaped");
	assert_string_equal(type_of(c, "qx"), "plain");
	free_classifier(c);
}

static void
test_tie_bytewise(void **state)
{
	int			order;

	(void) state;
	/* "a%c" and "ab%" both have two literal bytes; '%' < 'b' */
	for (order = 0; order < 2; order++)
	{
		pp_classifier_t *c = new_classifier();

		if (order == 0)
		{
			assert_int_equal(pp_classifier_add_rule(c, "ab%", "ab%"), PP_OK);
			assert_int_equal(pp_classifier_add_rule(c, "a%c", "a%c"), PP_OK);
		}
		else
		{
			assert_int_equal(pp_classifier_add_rule(c, "a%c", "a%c"), PP_OK);
			assert_int_equal(pp_classifier_add_rule(c, "ab%", "ab%"), PP_OK);
		}
		assert_string_equal(type_of(c, "abc"), "a%c");
		assert_string_equal(type_of(c, "abd"), "ab%");
		assert_string_equal(type_of(c, "axc"), "a%c");
		free_classifier(c);
	}

	/* bytewise means unsigned: 0xc3 sorts after 'z' */
	for (order = 0; order < 2; order++)
	{
		pp_classifier_t *c = new_classifier();
		const char *pz = "%z%";
		const char *pc3 = "%\xc3%";

		assert_int_equal(pp_classifier_add_rule(c, order ? pz : pc3,
												order ? "z" : "c3"), PP_OK);
		assert_int_equal(pp_classifier_add_rule(c, order ? pc3 : pz,
												order ? "c3" : "z"), PP_OK);
		assert_string_equal(type_of(c, "z\xc3"), "z");
		assert_string_equal(type_of(c, "\xc3"), "c3");
		free_classifier(c);
	}
}

static void
test_replace_rule(void **state)
{
	pp_classifier_t *c = new_classifier();

	(void) state;
	assert_int_equal(pp_classifier_add_rule(c, "db.query", "one"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "db.%", "one"), PP_OK);
	assert_string_equal(type_of(c, "db.query"), "one");
	assert_string_equal(type_of(c, "db.x"), "one");
	assert_int_equal(pp_classifier_add_rule(c, "db.query", "two"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "db.%", "two"), PP_OK);
	assert_string_equal(type_of(c, "db.query"), "two");
	assert_string_equal(type_of(c, "db.x"), "two");
	free_classifier(c);
}

static void
test_many_rules(void **state)
{
	pp_classifier_t *c = new_classifier();
	char		name[64];
	char		type[64];
	int			i;

	(void) state;
	for (i = 0; i < 2000; i++)
	{
		snprintf(name, sizeof(name), "op.%d", i);
		snprintf(type, sizeof(type), "type%d", i % 7);
		assert_int_equal(pp_classifier_add_rule(c, name, type), PP_OK);
		if (i >= PP_CLASSIFY_MAX_PATTERNS)
			continue;
		snprintf(name, sizeof(name), "pat.%d.%%", i);
		assert_int_equal(pp_classifier_add_rule(c, name, type), PP_OK);
	}
	for (i = 0; i < 2000; i++)
	{
		snprintf(name, sizeof(name), "op.%d", i);
		snprintf(type, sizeof(type), "type%d", i % 7);
		assert_string_equal(type_of(c, name), type);
		snprintf(name, sizeof(name), "pat.%d.x", i);
		assert_string_equal(type_of(c, name),
							i < PP_CLASSIFY_MAX_PATTERNS ? type : "other");
	}
	assert_string_equal(type_of(c, "op.2000"), "other");
	free_classifier(c);
}

/*
 * The limits: the 257th pattern, a pattern that would pass 8192 bytes and
 * the 10001st exact name are refused with PP_ERR_TOO_MANY_RULES and leave
 * the classifier as it was; replacing the type of a rule that exists is
 * always accepted.
 */
static void
test_rule_limits(void **state)
{
	pp_classifier_t *c = new_classifier();
	char		name[64];
	char	   *big;
	int			i;
	size_t		live;

	(void) state;
	for (i = 0; i < PP_CLASSIFY_MAX_PATTERNS; i++)
	{
		snprintf(name, sizeof(name), "p%d%%", i);
		assert_int_equal(pp_classifier_add_rule(c, name, "p"), PP_OK);
	}
	live = pool.held;
	assert_int_equal(pp_classifier_add_rule(c, "q%", "q"), PP_ERR_TOO_MANY_RULES);
	assert_int_equal(pool.held, live);
	assert_string_equal(type_of(c, "qx"), "other");
	assert_string_equal(type_of(c, "p7x"), "p");
	assert_int_equal(pp_classifier_add_rule(c, "p7%", "seven"), PP_OK);
	assert_string_equal(type_of(c, "p7x"), "seven");
	/* exact names do not count against the patterns */
	assert_int_equal(pp_classifier_add_rule(c, "qx", "q"), PP_OK);
	assert_string_equal(type_of(c, "qx"), "q");
	free_classifier(c);

	/* bytes: one pattern of 8192 bytes fits, one more byte does not */
	c = new_classifier();
	big = malloc(PP_CLASSIFY_MAX_PATTERN_BYTES + 2);
	assert_non_null(big);
	memset(big, 'b', PP_CLASSIFY_MAX_PATTERN_BYTES);
	big[0] = '%';
	big[PP_CLASSIFY_MAX_PATTERN_BYTES] = '\0';
	assert_int_equal(pp_classifier_add_rule(c, big, "big"), PP_OK);
	assert_int_equal(pp_classifier_add_rule(c, "%", "any"), PP_ERR_TOO_MANY_RULES);
	assert_string_equal(type_of(c, "x"), "other");
	free_classifier(c);
	c = new_classifier();
	big[PP_CLASSIFY_MAX_PATTERN_BYTES] = 'b';
	big[PP_CLASSIFY_MAX_PATTERN_BYTES + 1] = '\0';
	assert_int_equal(pp_classifier_add_rule(c, big, "big"), PP_ERR_TOO_MANY_RULES);
	free(big);
	assert_int_equal(pp_classifier_add_rule(c, "%", "any"), PP_OK);
	free_classifier(c);

	/* exact names */
	c = new_classifier();
	for (i = 0; i < PP_CLASSIFY_MAX_EXACT; i++)
	{
		snprintf(name, sizeof(name), "e%d", i);
		assert_int_equal(pp_classifier_add_rule(c, name, "e"), PP_OK);
	}
	live = pool.held;
	assert_int_equal(pp_classifier_add_rule(c, "one more", "e"), PP_ERR_TOO_MANY_RULES);
	assert_int_equal(pool.held, live);
	assert_string_equal(type_of(c, "one more"), "other");
	assert_int_equal(pp_classifier_add_rule(c, "e5", "five"), PP_OK);
	assert_string_equal(type_of(c, "e5"), "five");
	assert_int_equal(pp_classifier_add_rule(c, "x%", "x"), PP_OK);
	free_classifier(c);
}

/* The rule of classify.h over the patterns given, by brute force. */
static const char *
reference_type(const char *const *patterns, const char *const *types, int n,
			   const char *name)
{
	int			best = -1;
	size_t		best_literal = 0;

	for (int i = 0; i < n; i++)
	{
		size_t		literal = 0;

		for (const char *p = patterns[i]; *p; p++)
		{
			if (*p == '%' || *p == '_')
				continue;
			if (*p == '\\' && p[1] != '\0')
				p++;
			literal++;
		}
		if (!naive_like(patterns[i], name, strlen(name), false))
			continue;
		if (best < 0 || literal > best_literal ||
			(literal == best_literal && strcmp(patterns[i], patterns[best]) < 0))
		{
			best = i;
			best_literal = literal;
		}
	}
	return best < 0 ? PP_TYPE_OTHER : types[best];
}

/*
 * Patterns sorted by rank and filtered by prefix, suffix and length give
 * the rule's answer: random patterns with wildcards (and escapes) over a
 * small alphabet against random names, compared with a brute force over
 * the same patterns.
 */
static void
test_prefilter_random(void **state)
{
	const char	alphabet[] = "ab%_\\";
	unsigned	seed = 12345;
	int			round;

	(void) state;
	for (round = 0; round < 300; round++)
	{
		pp_classifier_t *c = new_classifier();
		char		pbuf[24][10];
		char		tbuf[24][16];
		const char *patterns[24];
		const char *types[24];
		int			n = 0;

		while (n < 24)
		{
			int			len = 1 + (int) ((seed = seed * 1103515245u + 12345u) >> 16) % 7;
			bool		wild = false;

			for (int k = 0; k < len; k++)
			{
				seed = seed * 1103515245u + 12345u;
				pbuf[n][k] = alphabet[(seed >> 16) % 5];
			}
			pbuf[n][len] = '\0';
			/* an unescaped wildcard */
			for (const char *q = pbuf[n]; *q; q++)
			{
				if (*q == '\\' && q[1] != '\0')
					q++;
				else if (*q == '%' || *q == '_')
					wild = true;
			}
			/* exact names take the other path: keep patterns, no repeats */
			if (!wild)
				continue;
			for (int k = 0; k < n; k++)
				if (strcmp(pbuf[k], pbuf[n]) == 0)
					wild = false;
			if (!wild)
				continue;
			snprintf(tbuf[n], sizeof(tbuf[n]), "t%d", n);
			patterns[n] = pbuf[n];
			types[n] = tbuf[n];
			assert_int_equal(pp_classifier_add_rule(c, pbuf[n], tbuf[n]), PP_OK);
			n++;
		}
		for (int k = 0; k < 200; k++)
		{
			char		name[10];
			int			len = (int) ((seed = seed * 1103515245u + 12345u) >> 16) % 8;

			for (int j = 0; j < len; j++)
			{
				seed = seed * 1103515245u + 12345u;
				name[j] = alphabet[(seed >> 16) % 5];
			}
			name[len] = '\0';
			assert_string_equal(type_of(c, name),
								reference_type(patterns, types, n, name));
		}
		free_classifier(c);
	}
}

/* An interrupt check that counts, and one that jumps out as an ERROR does. */
static int	checks;
static jmp_buf check_jump;

static void
count_check(void *arg)
{
	(void) arg;
	checks++;
}

static void
jump_check(void *arg)
{
	(void) arg;
	longjmp(check_jump, 1);
}

static void
test_interrupt(void **state)
{
	pp_classifier_t *c = new_classifier();
	char		name[32];
	int			i;

	(void) state;
	for (i = 0; i < PP_CLASSIFY_MAX_PATTERNS; i++)
	{
		snprintf(name, sizeof(name), "%%x%d%%", i);
		assert_int_equal(pp_classifier_add_rule(c, name, "x"), PP_OK);
	}
	/* a name no pattern matches tries them all */
	checks = 0;
	pp_classifier_set_interrupt(c, count_check, NULL);
	assert_string_equal(type_of(c, "nothing"), "other");
	assert_int_equal(checks, PP_CLASSIFY_MAX_PATTERNS / PP_CLASSIFY_CHECK_EVERY);
	/* a memoized answer needs no check */
	assert_string_equal(type_of(c, "nothing"), "other");
	assert_int_equal(checks, PP_CLASSIFY_MAX_PATTERNS / PP_CLASSIFY_CHECK_EVERY);

	/* a check that does not return leaves the classifier as it was */
	pp_classifier_set_interrupt(c, jump_check, NULL);
	if (setjmp(check_jump) == 0)
	{
		(void) pp_classifier_type(c, "cancelled", 9);
		fail_msg("the check did not run");
	}
	assert_int_equal(pp_classifier_memo_size(c), 1);
	pp_classifier_set_interrupt(c, NULL, NULL);
	assert_string_equal(type_of(c, "cancelled"), "other");
	assert_string_equal(type_of(c, "ax17a"), "x");
	assert_int_equal(pp_classifier_memo_size(c), 3);
	free_classifier(c);
}

/* ---------------------------------------------------------------------
 * Memo
 * ---------------------------------------------------------------------
 */
static void
test_memo(void **state)
{
	pp_classifier_t *c = new_classifier();
	char		name[32];
	char	   *longname;
	int			i;

	(void) state;
	assert_int_equal(pp_classifier_add_rule(c, "n%", "n"), PP_OK);
	assert_int_equal(pp_classifier_memo_size(c), 0);

	/* a repeated name is memoized once */
	assert_string_equal(type_of(c, "n1"), "n");
	assert_string_equal(type_of(c, "n1"), "n");
	assert_ptr_equal(type_of(c, "n1"), type_of(c, "n1"));
	assert_int_equal(pp_classifier_memo_size(c), 1);

	/* adding a rule forgets the memo, so it cannot answer stale types */
	assert_string_equal(type_of(c, "x.y"), "other");
	assert_int_equal(pp_classifier_add_rule(c, "x.%", "x"), PP_OK);
	assert_int_equal(pp_classifier_memo_size(c), 0);
	assert_string_equal(type_of(c, "x.y"), "x");

	/* fill it up, then one more empties it */
	for (i = 0; pp_classifier_memo_size(c) < PP_CLASSIFY_MEMO_MAX; i++)
	{
		snprintf(name, sizeof(name), "n%d", i);
		assert_string_equal(type_of(c, name), "n");
	}
	assert_int_equal(pp_classifier_memo_size(c), PP_CLASSIFY_MEMO_MAX);
	assert_string_equal(type_of(c, "n1"), "n");	/* a hit: no change */
	assert_int_equal(pp_classifier_memo_size(c), PP_CLASSIFY_MEMO_MAX);
	assert_string_equal(type_of(c, "brand new"), "other");
	assert_int_equal(pp_classifier_memo_size(c), 1);

	/* evicted names still classify right */
	for (i = 0; i < 100; i++)
	{
		snprintf(name, sizeof(name), "n%d", i);
		assert_string_equal(type_of(c, name), "n");
	}
	assert_string_equal(type_of(c, "x.y"), "x");
	assert_int_equal(pp_classifier_memo_size(c), 102);

	/* names longer than the bound are not memoized */
	longname = malloc(PP_CLASSIFY_MEMO_MAX_NAME + 2);
	assert_non_null(longname);
	memset(longname, 'n', PP_CLASSIFY_MEMO_MAX_NAME + 1);
	longname[PP_CLASSIFY_MEMO_MAX_NAME + 1] = '\0';
	assert_string_equal(type_of(c, longname), "n");
	assert_int_equal(pp_classifier_memo_size(c), 102);
	longname[PP_CLASSIFY_MEMO_MAX_NAME] = '\0';
	assert_string_equal(type_of(c, longname), "n");
	assert_int_equal(pp_classifier_memo_size(c), 103);
	free(longname);
	free_classifier(c);
}

/* ---------------------------------------------------------------------
 * Thresholds
 * ---------------------------------------------------------------------
 */
static void
test_thresholds(void **state)
{
	pp_classifier_t *c = new_classifier();
	double		t = -1;

	(void) state;
	assert_false(pp_classifier_threshold(c, "db.query", 8, "db", &t));
	assert_int_equal(pp_classifier_add_threshold(c, "db", 100), PP_OK);
	assert_int_equal(pp_classifier_add_threshold(c, "db.query", 5), PP_OK);

	/* the name's own row first, then its type's */
	assert_true(pp_classifier_threshold(c, "db.query", 8, "db", &t));
	assert_true(t == 5);
	assert_true(pp_classifier_threshold(c, "db.other", 8, "db", &t));
	assert_true(t == 100);
	assert_true(pp_classifier_threshold(c, "db.queryXYZ", 8, "other", &t));
	assert_true(t == 5);
	t = -1;
	assert_false(pp_classifier_threshold(c, "x", 1, "other", &t));
	assert_false(pp_classifier_threshold(c, "x", 1, NULL, &t));
	assert_true(t == -1);

	/* a later value replaces the earlier */
	assert_int_equal(pp_classifier_add_threshold(c, "db", 250.5), PP_OK);
	assert_true(pp_classifier_threshold(c, "db.other", 8, "db", &t));
	assert_true(t == 250.5);

	/* thresholds do not touch classification */
	assert_string_equal(type_of(c, "db"), "other");
	free_classifier(c);
}

/* ---------------------------------------------------------------------
 * Allocation failure
 * ---------------------------------------------------------------------
 */
typedef struct step_t
{
	char		kind;			/* 'r' rule, 't' threshold */
	const char *key;
	const char *type;
	double		ms;
} step_t;

static const step_t script[] = {
	{'r', "db.query", "db", 0},
	{'r', "db.%", "db_any", 0},
	{'t', "db", 0, 10},
	{'r', "http.get%", "http", 0},
	{'r', "a\\_b", "escaped", 0},
	{'t', "db.query", 0, 1},
	{'r', "%llm%", "llm", 0},
	{'r', "db.query", "db2", 0},
	{'t', "db", 0, 20},
	{'r', "%llm%", "llm2", 0},
	{'r', "r1", "t", 0}, {'r', "r2", "t", 0}, {'r', "r3", "t", 0},
	{'r', "r4", "t", 0}, {'r', "r5", "t", 0}, {'r', "r6", "t", 0},
	{'r', "r7", "t", 0}, {'r', "r8", "t", 0}, {'r', "r9", "t", 0},
	{'r', "p1%", "t", 0}, {'r', "p2%", "t", 0}, {'r', "p3%", "t", 0},
	{'r', "p4%", "t", 0}, {'r', "p5%", "t", 0}, {'r', "p6%", "t", 0},
	{'r', "p7%", "t", 0}, {'r', "p8%", "t", 0}, {'r', "p9%", "t", 0},
	{'t', "x1", 0, 1}, {'t', "x2", 0, 1}, {'t', "x3", 0, 1},
	{'t', "x4", 0, 1}, {'t', "x5", 0, 1}, {'t', "x6", 0, 1},
	{'t', "x7", 0, 1}, {'t', "x8", 0, 1}, {'t', "x9", 0, 1},
};

static const char *probes[] = {
	"db.query", "db.x", "http.get.y", "a_b", "axb", "my-llm-call", "r5",
	"p7abc", "x3", "nothing", "db", ""
};

#define N_STEPS (sizeof(script) / sizeof(script[0]))
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

static void
test_allocation_failure(void **state)
{
	long		n;

	(void) state;
	for (n = 0;; n++)
	{
		pp_classifier_t *c;
		pp_classifier_t *ref;
		bool		all_ok = true;
		size_t		i;

		pool_release(&pool);
		pool_init(&pool);
		pool.fail_from = (int) n;
		c = pp_classifier_create(&pool.allocator);
		if (c == NULL)
		{
			assert_int_equal(pool.held, 0);
			continue;
		}
		ref = pp_classifier_create(&ref_pool.allocator);
		assert_non_null(ref);

		for (i = 0; i < N_STEPS; i++)
		{
			const step_t *s = &script[i];
			pp_error_code_t rc;

			if (s->kind == 'r')
				rc = pp_classifier_add_rule(c, s->key, s->type);
			else
				rc = pp_classifier_add_threshold(c, s->key, s->ms);
			if (rc != PP_OK)
			{
				assert_int_equal(rc, PP_ERR_NO_MEMORY);
				all_ok = false;
				continue;
			}
			if (s->kind == 'r')
				assert_int_equal(pp_classifier_add_rule(ref, s->key, s->type),
								 PP_OK);
			else
				assert_int_equal(pp_classifier_add_threshold(ref, s->key,
															 s->ms),
								 PP_OK);
		}

		/* answers match the reference, memo or not, twice */
		for (i = 0; i < 2 * N_PROBES; i++)
		{
			const char *name = probes[i % N_PROBES];
			size_t		len = strlen(name);
			double		t1 = 0,
						t2 = 0;
			const char *type = pp_classifier_type(ref, name, len);
			bool		h1 = pp_classifier_threshold(c, name, len, type, &t1);
			bool		h2 = pp_classifier_threshold(ref, name, len, type, &t2);

			assert_string_equal(pp_classifier_type(c, name, len), type);
			assert_int_equal(h1, h2);
			assert_true(t1 == t2);
		}

		pool_release(&ref_pool);
		pool_release(&pool);
		if (all_ok && pool.calls < (int) n)
			break;
	}
	assert_true(n > 20);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_like_cases),
		cmocka_unit_test(test_like_length),
		cmocka_unit_test(test_like_no_blowup),
		cmocka_unit_test(test_like_exhaustive),
		cmocka_unit_test(test_default_other),
		cmocka_unit_test(test_exact_wins),
		cmocka_unit_test(test_most_literal_wins),
		cmocka_unit_test(test_tie_bytewise),
		cmocka_unit_test(test_replace_rule),
		cmocka_unit_test(test_many_rules),
		cmocka_unit_test(test_rule_limits),
		cmocka_unit_test(test_prefilter_random),
		cmocka_unit_test(test_interrupt),
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_allocation_failure),
	};

	pool_init(&pool);
	pool_init(&ref_pool);
	return cmocka_run_group_tests_name("classify", tests, NULL, NULL);
}
