/*-------------------------------------------------------------------------
 *
 * test/unit/test_alloc.c
 *	  cmocka tests of src/core/alloc.c and src/core/error.c.
 *
 * The allocation hooks: the default allocator, a custom one receiving its
 * context, zero-size requests and NULL frees.  The error struct: every
 * field filled, truncation that keeps the buffers NUL-terminated, and a
 * NULL err that is only a way to return the code.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pp_core.h"

typedef struct recorder_t
{
	int			mallocs;
	int			frees;
	size_t		last_size;
	void	   *last_free;
	bool		fail;
} recorder_t;

static void *
recorder_malloc(size_t size, void *ctx)
{
	recorder_t *r = ctx;

	r->last_size = size;
	if (r->fail)
		return NULL;
	r->mallocs++;
	return malloc(size);
}

static void
recorder_free(void *ptr, void *ctx)
{
	recorder_t *r = ctx;

	r->frees++;
	r->last_free = ptr;
	free(ptr);
}

static void
test_default_allocator(void **state)
{
	unsigned char *p;
	size_t		i;

	(void) state;
	p = pp_alloc(NULL, 100);
	assert_non_null(p);
	memset(p, 0xab, 100);
	pp_free(NULL, p);

	p = pp_alloc0(NULL, 1000);
	assert_non_null(p);
	for (i = 0; i < 1000; i++)
		assert_int_equal(p[i], 0);
	pp_free(&pp_default_allocator, p);

	/* zero bytes still gives a pointer that can be freed */
	p = pp_alloc(&pp_default_allocator, 0);
	assert_non_null(p);
	pp_free(NULL, p);
	p = pp_alloc0(NULL, 0);
	assert_non_null(p);
	pp_free(NULL, p);

	pp_free(NULL, NULL);
	pp_free(&pp_default_allocator, NULL);
	assert_null(pp_default_allocator.ctx);
}

static void
test_custom_allocator(void **state)
{
	recorder_t	r = {0};
	pp_allocator_t a = {recorder_malloc, recorder_free, &r};
	void	   *p;

	(void) state;
	p = pp_alloc(&a, 24);
	assert_non_null(p);
	assert_int_equal(r.mallocs, 1);
	assert_int_equal(r.last_size, 24);
	pp_free(&a, p);
	assert_int_equal(r.frees, 1);
	assert_ptr_equal(r.last_free, p);

	/* zero-size requests are sent as one byte */
	p = pp_alloc(&a, 0);
	assert_int_equal(r.last_size, 1);
	pp_free(&a, p);

	/* a NULL free does not reach the hook */
	pp_free(&a, NULL);
	assert_int_equal(r.frees, 2);

	/* failure is reported as NULL, also by pp_alloc0 */
	r.fail = true;
	assert_null(pp_alloc(&a, 10));
	assert_null(pp_alloc0(&a, 10));
	assert_int_equal(r.mallocs, 2);
}

static void
test_error_set(void **state)
{
	pp_error_t	err;

	(void) state;
	memset(&err, 'x', sizeof(err));
	assert_int_equal(pp_error_set(&err, PP_ERR_OUT_OF_RANGE,
								  "$.children[2].duration_ms",
								  "duration_ms must be between %d and %s",
								  0, "1e9"),
					 PP_ERR_OUT_OF_RANGE);
	assert_int_equal(err.code, PP_ERR_OUT_OF_RANGE);
	assert_string_equal(err.path, "$.children[2].duration_ms");
	assert_string_equal(err.text, "duration_ms must be between 0 and 1e9");

	/* NULL path and NULL format give empty strings */
	assert_int_equal(pp_error_set(&err, PP_ERR_MISSING, NULL, NULL),
					 PP_ERR_MISSING);
	assert_int_equal(err.code, PP_ERR_MISSING);
	assert_string_equal(err.path, "");
	assert_string_equal(err.text, "");

	/* PP_OK clears */
	assert_int_equal(pp_error_set(&err, PP_OK, "", "%s", ""), PP_OK);
	assert_int_equal(err.code, PP_OK);

	/* a NULL err only returns the code */
	assert_int_equal(pp_error_set(NULL, PP_ERR_NO_MEMORY, "$", "out of memory"),
					 PP_ERR_NO_MEMORY);
}

static void
test_error_truncation(void **state)
{
	pp_error_t	err;
	char	   *longpath = malloc(4 * PP_ERROR_PATH_SIZE);
	char	   *longtext = malloc(4 * PP_ERROR_TEXT_SIZE);

	(void) state;
	assert_non_null(longpath);
	assert_non_null(longtext);
	memset(longpath, 'p', 4 * PP_ERROR_PATH_SIZE - 1);
	longpath[4 * PP_ERROR_PATH_SIZE - 1] = '\0';
	memset(longtext, 't', 4 * PP_ERROR_TEXT_SIZE - 1);
	longtext[4 * PP_ERROR_TEXT_SIZE - 1] = '\0';

	pp_error_set(&err, PP_ERR_WRONG_TYPE, longpath, "%s!", longtext);
	assert_int_equal(strlen(err.path), PP_ERROR_PATH_SIZE - 1);
	assert_int_equal(strlen(err.text), PP_ERROR_TEXT_SIZE - 1);
	assert_memory_equal(err.path, longpath, PP_ERROR_PATH_SIZE - 1);
	assert_memory_equal(err.text, longtext, PP_ERROR_TEXT_SIZE - 1);
	free(longpath);
	free(longtext);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_allocator),
		cmocka_unit_test(test_custom_allocator),
		cmocka_unit_test(test_error_set),
		cmocka_unit_test(test_error_truncation),
	};

	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
