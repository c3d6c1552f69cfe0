/*-------------------------------------------------------------------------
 *
 * src/core/pp_core.h
 *	  Common definitions of ppprof's pure-C core: allocation hooks and the
 *	  error report that every core module fills in.
 *
 * The core never includes a PostgreSQL header.  It allocates through a
 * caller-supplied pp_allocator_t, so that the server glue can hand it
 * palloc (memory then belongs to a memory context and is released by a
 * context reset) while unit tests hand it malloc or an allocator that fails
 * on purpose.  A core function that can fail returns a pp_error_code_t and
 * fills a pp_error_t: the code, the JSON path of the offending value and a
 * short lower-case explanation.  The glue maps that struct to one ereport.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_CORE_H
#define PP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Allocation hooks.  malloc_fn returns NULL on failure. */
typedef void *(*pp_malloc_fn) (size_t size, void *ctx);
typedef void (*pp_free_fn) (void *ptr, void *ctx);

typedef struct pp_allocator_t
{
	pp_malloc_fn malloc_fn;
	pp_free_fn	free_fn;
	void	   *ctx;
} pp_allocator_t;

/* malloc/free; used when a NULL allocator is passed to a core function */
extern const pp_allocator_t pp_default_allocator;

extern void *pp_alloc(const pp_allocator_t *a, size_t size);
extern void *pp_alloc0(const pp_allocator_t *a, size_t size);
extern void pp_free(const pp_allocator_t *a, void *ptr);

/* What went wrong; the glue maps each code to one SQLSTATE. */
typedef enum pp_error_code_t
{
	PP_OK = 0,
	PP_ERR_WRONG_TYPE,			/* a value of the wrong JSON type: 22023 */
	PP_ERR_MISSING,				/* a required key is absent: 22023 */
	PP_ERR_INVALID_VALUE,		/* right type, unacceptable value: 22023 */
	PP_ERR_OUT_OF_RANGE,		/* a number outside its range: 22003 */
	PP_ERR_NAME_TOO_LONG,		/* operation_name over the limit: 54000 */
	PP_ERR_TOO_DEEP,			/* nesting over the depth limit: 54000 */
	PP_ERR_TOO_MANY_NODES,		/* more nodes than the limit: 54000 */
	PP_ERR_NO_MEMORY,			/* the allocator returned NULL: 53200 */
	PP_ERR_TOO_MANY_RULES,		/* classification rules over a limit: 54000 */
	PP_ERR_FULL					/* a fixed-capacity store has no room for it
								 * (the caller grows it; never an SQL error) */
} pp_error_code_t;

#define PP_ERROR_PATH_SIZE	512
#define PP_ERROR_TEXT_SIZE	256

typedef struct pp_error_t
{
	pp_error_code_t code;
	char		path[PP_ERROR_PATH_SIZE];	/* e.g. "$.children[2].duration_ms" */
	char		text[PP_ERROR_TEXT_SIZE];	/* e.g. "expected a number or null, got string" */
} pp_error_t;

/* Fill err (if not NULL); returns code, so "return pp_error_set(...)" reads well */
extern pp_error_code_t pp_error_set(pp_error_t *err, pp_error_code_t code,
									const char *path, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

#endif							/* PP_CORE_H */
