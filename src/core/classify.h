/*-------------------------------------------------------------------------
 *
 * src/core/classify.h
 *	  Map operation names to operation types, and names or types to
 *	  thresholds, from rules the server loads out of operation_categories and
 *	  performance_thresholds.
 *
 * Rule (documented in docs/reference.md): a pattern without wildcards is an
 * exact name and wins over any pattern; otherwise, among the LIKE-style
 * patterns ('%' any run, '_' one byte, '\' escapes) that match the whole
 * name, the one with the most literal bytes wins, ties going to the pattern
 * that sorts first bytewise.  A name that nothing matches is of type "other".
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_CLASSIFY_H
#define PP_CLASSIFY_H

#include "pp_core.h"

#define PP_TYPE_OTHER "other"

typedef struct pp_classifier_t pp_classifier_t;

extern pp_classifier_t *pp_classifier_create(const pp_allocator_t *allocator);

/*
 * Names are UTF-8 (the database's encoding): '_' in a pattern matches one
 * character, as SQL's LIKE does; otherwise one byte.  Off at creation.
 */
extern void pp_classifier_set_utf8(pp_classifier_t *c, bool utf8);

/*
 * Limits on the rules, so that classifying a name the memo has not seen
 * costs a bounded amount of work and a classifier a bounded amount of
 * memory.  An exact name is one hash lookup, whatever their number; a
 * pattern with wildcards is tried against every name that passes its
 * literal prefix, suffix and length, and pp_like_match costs up to
 * O(pattern length x name length).  So per new name the work is at most
 * PP_CLASSIFY_MAX_PATTERN_BYTES x name length steps (8192 x 200 at the
 * default ppprof.max_name_length: about 1.6 million, a few milliseconds)
 * whatever the patterns, and about PP_CLASSIFY_MAX_PATTERNS cheap prefix
 * and suffix comparisons for patterns that do not apply.  ppprof's own
 * configuration has 20 patterns of 5 to 12 bytes.
 */
#define PP_CLASSIFY_MAX_PATTERNS		256		/* rules with wildcards */
#define PP_CLASSIFY_MAX_PATTERN_BYTES	8192	/* their bytes, all together */
#define PP_CLASSIFY_MAX_EXACT			10000	/* exact names */

/*
 * Copies both strings.  Returns PP_OK, PP_ERR_NO_MEMORY, or
 * PP_ERR_TOO_MANY_RULES when a new rule would exceed a limit above
 * (replacing the type of an existing rule never does); on an error the
 * classifier is unchanged.
 */
extern pp_error_code_t pp_classifier_add_rule(pp_classifier_t *c,
											  const char *pattern,
											  const char *operation_type);

/*
 * Calls check(arg) every PP_CLASSIFY_CHECK_EVERY patterns a lookup tries
 * (the server passes a function that runs CHECK_FOR_INTERRUPTS, which may
 * not return: a lookup changes nothing before it has its answer).  NULL
 * turns it off.
 */
#define PP_CLASSIFY_CHECK_EVERY	32
extern void pp_classifier_set_interrupt(pp_classifier_t *c,
										void (*check) (void *arg), void *arg);

/* Copies the key.  A later value for the same key replaces the earlier. */
extern pp_error_code_t pp_classifier_add_threshold(pp_classifier_t *c,
												   const char *name_or_type,
												   double threshold_ms);

/* The operation type of a name (not NUL-terminated); never NULL. */
extern const char *pp_classifier_type(pp_classifier_t *c,
									  const char *name, size_t len);

/*
 * The threshold of an operation: its own name's row first, then its type's.
 * Returns false when neither has one.
 */
extern bool pp_classifier_threshold(pp_classifier_t *c,
									const char *name, size_t len,
									const char *operation_type,
									double *threshold_ms);

/*
 * pp_classifier_type memoizes its answers for names of at most
 * PP_CLASSIFY_MEMO_MAX_NAME bytes, up to PP_CLASSIFY_MEMO_MAX of them; the
 * memo is emptied when full and whenever a rule is added.  Exposed for tests.
 */
#define PP_CLASSIFY_MEMO_MAX		4096
#define PP_CLASSIFY_MEMO_MAX_NAME	1024
extern size_t pp_classifier_memo_size(const pp_classifier_t *c);

/*
 * LIKE matcher used by the classifier ('_' one character of UTF-8 when
 * utf8, else one byte); exposed for tests.
 */
extern bool pp_like_match(const char *pattern, const char *s, size_t len,
						  bool utf8);

#endif							/* PP_CLASSIFY_H */
