/*
 * test/fuzz/nointl.c -- message catalogs switched off, for the SQL fuzz
 * under AddressSanitizer (test/fuzz/server_fuzz.sh, FUZZ_ASAN=1).
 *
 * With the ASan runtime preloaded into Debian's postgres binary, glibc's
 * bindtextdomain waits forever on its own state lock at start-up.  Preloaded
 * after the runtime, these definitions take the place of glibc's gettext
 * functions: every message stays in English, and nothing else changes.
 */
char	   *bindtextdomain(const char *domain, const char *dir);
char	   *bind_textdomain_codeset(const char *domain, const char *codeset);
char	   *textdomain(const char *domain);
char	   *gettext(const char *msgid);
char	   *dgettext(const char *domain, const char *msgid);
char	   *dcgettext(const char *domain, const char *msgid, int category);
char	   *ngettext(const char *one, const char *many, unsigned long n);
char	   *dngettext(const char *domain, const char *one, const char *many, unsigned long n);
char	   *dcngettext(const char *domain, const char *one, const char *many, unsigned long n,
					   int category);

char *
bindtextdomain(const char *domain, const char *dir)
{
	(void) domain;
	return (char *) dir;
}

char *
bind_textdomain_codeset(const char *domain, const char *codeset)
{
	(void) domain;
	return (char *) codeset;
}

char *
textdomain(const char *domain)
{
	return (char *) (domain ? domain : "messages");
}

char *
gettext(const char *msgid)
{
	return (char *) msgid;
}

char *
dgettext(const char *domain, const char *msgid)
{
	(void) domain;
	return (char *) msgid;
}

char *
dcgettext(const char *domain, const char *msgid, int category)
{
	(void) domain;
	(void) category;
	return (char *) msgid;
}

char *
ngettext(const char *one, const char *many, unsigned long n)
{
	return (char *) (n == 1 ? one : many);
}

char *
dngettext(const char *domain, const char *one, const char *many, unsigned long n)
{
	(void) domain;
	return (char *) (n == 1 ? one : many);
}

char *
dcngettext(const char *domain, const char *one, const char *many, unsigned long n, int category)
{
	(void) domain;
	(void) category;
	return (char *) (n == 1 ? one : many);
}
