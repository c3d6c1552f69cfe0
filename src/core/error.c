/*-------------------------------------------------------------------------
 *
 * src/core/error.c
 *	  Filling the pp_error_t that core functions return their failures in.
 *
 * The struct has fixed-size buffers, so filling it never allocates and
 * cannot fail: the path and the text are truncated (always NUL-terminated)
 * when they do not fit.  Callers that build long paths truncate them
 * themselves in a more useful way (tree.c keeps the tail of the path).
 *
 * No PostgreSQL headers; allocation through pp_allocator_t (none here).
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>

#include "pp_core.h"

/*
 * Fill err with code, path (NULL means "") and the formatted text; err may
 * be NULL.  Returns code.
 */
pp_error_code_t
pp_error_set(pp_error_t *err, pp_error_code_t code, const char *path,
			 const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return code;

	err->code = code;
	snprintf(err->path, sizeof(err->path), "%s", path ? path : "");
	if (fmt == NULL)
		err->text[0] = '\0';
	else
	{
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
	}
	return code;
}
