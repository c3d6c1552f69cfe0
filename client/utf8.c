/*-------------------------------------------------------------------------
 *
 * client/utf8.c
 *	  The UTF-8 check shared by libppprof (span names, metadata and error
 *	  texts) and the ppprof command (escaping what it prints).
 *
 * Well-formed UTF-8 as RFC 3629 table 3-7 gives it, which is also what
 * PostgreSQL's UTF8 verification accepts: the second byte's range depends
 * on the first, which rules out overlong forms (C0, C1, E0 80-9F, F0
 * 80-8F), UTF-16 surrogates (ED A0-BF) and code points above U+10FFFF (F4
 * 90-BF, F5-FF).
 *
 *-------------------------------------------------------------------------
 */
#include "client_internal.h"

size_t
pp__utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80;	/* range of the second byte */
	unsigned char hi = 0xBF;
	size_t		len;
	size_t		i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		len = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F;
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		len = 4;
		if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}
