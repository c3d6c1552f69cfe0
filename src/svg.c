/*-------------------------------------------------------------------------
 *
 * src/svg.c
 *	  Writing the flame graphs' SVG: escaped text, frames, colours, legend.
 *
 * The documents are self-contained: no script, no stylesheet or font to
 * fetch, no link; every attribute is written here.  Names come from
 * profiles and are data: they are written as XML character data with
 * every markup character escaped and every character outside ASCII as a
 * numeric character reference, so that neither a name nor the database or
 * client encoding can break the document.  A tooltip is an SVG <title>.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"

#include "svg.h"

#define REPLACEMENT_CHAR 0xFFFD

/* One character as XML character data. */
static void
svg_char(StringInfo out, pg_wchar c)
{
	switch (c)
	{
		case '<':
			appendStringInfoString(out, "&lt;");
			return;
		case '>':
			appendStringInfoString(out, "&gt;");
			return;
		case '&':
			appendStringInfoString(out, "&amp;");
			return;
		case '"':
			appendStringInfoString(out, "&quot;");
			return;
		case '\'':
			appendStringInfoString(out, "&#39;");
			return;
		case '\t':
		case '\n':
		case '\r':
			/* allowed, but a label or an attribute would fold them */
			appendStringInfoChar(out, ' ');
			return;
		default:
			break;
	}
	/* XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | ... */
	if (c < 0x20 || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE ||
		c == 0xFFFF || c > 0x10FFFF)
		c = REPLACEMENT_CHAR;
	if (c < 0x7F)
		appendStringInfoChar(out, (char) c);
	else
		appendStringInfo(out, "&#x%X;", (unsigned int) c);
}

/*
 * The code points of s (len bytes in the server encoding) into *cps, at
 * most limit of them (0: all); returns their number.
 */
static size_t
svg_code_points(const char *s, size_t len, size_t limit, pg_wchar **cps)
{
	const unsigned char *u;
	size_t		ulen;
	size_t		n = 0;
	size_t		i = 0;
	int			enc = GetDatabaseEncoding();

	*cps = palloc(sizeof(pg_wchar) * (len + 1));
	if (enc == PG_SQL_ASCII)
	{
		/* bytes without an encoding: ASCII is kept, the rest is unknown */
		for (i = 0; i < len && (limit == 0 || n < limit); i++)
			(*cps)[n++] = (unsigned char) s[i] < 0x80 ?
				(pg_wchar) (unsigned char) s[i] : REPLACEMENT_CHAR;
		return n;
	}
	if (enc == PG_UTF8)
		u = (const unsigned char *) s;
	else
		u = (const unsigned char *) pg_server_to_any(s, (int) len, PG_UTF8);
	ulen = (u == (const unsigned char *) s) ? len : strlen((const char *) u);
	if (ulen > len)
		*cps = repalloc(*cps, sizeof(pg_wchar) * (ulen + 1));
	while (i < ulen && (limit == 0 || n < limit))
	{
		int			l = pg_utf_mblen(u + i);

		if (i + l > ulen || !pg_utf8_islegal(u + i, l))
		{
			(*cps)[n++] = REPLACEMENT_CHAR;
			i++;
			continue;
		}
		(*cps)[n++] = utf8_to_unicode(u + i);
		i += l;
	}
	return n;
}

void
pp_svg_text(StringInfo out, const char *s, size_t len, size_t max_chars)
{
	pg_wchar   *cps;
	size_t		n;
	size_t		i;

	/* one more than fits tells whether it is cut */
	n = svg_code_points(s, len, max_chars > 0 ? max_chars + 1 : 0, &cps);

	if (max_chars > 0 && n > max_chars)
	{
		for (i = 0; i + 2 < max_chars; i++)
			svg_char(out, cps[i]);
		appendStringInfoString(out, "..");
	}
	else
		for (i = 0; i < n; i++)
			svg_char(out, cps[i]);
	pfree(cps);
}

void
pp_svg_ms(StringInfo out, double ms)
{
	if (fabs(ms) >= 1000)
		appendStringInfo(out, "%.0f ms", ms);
	else if (fabs(ms) >= 1)
		appendStringInfo(out, "%.1f ms", ms);
	else
		appendStringInfo(out, "%.3f ms", ms);
}

void
pp_svg_begin(StringInfo out, int height, const char *title,
			 const char *subtitle)
{
	appendStringInfo(out,
					 "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
					 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""
					 " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
					 " font-family=\"Verdana, 'DejaVu Sans', sans-serif\" font-size=\"11\">\n",
					 PP_SVG_WIDTH, height, PP_SVG_WIDTH, height);
	appendStringInfoString(out, "<title>");
	pp_svg_text(out, title, strlen(title), 0);
	appendStringInfoString(out, "</title>\n<desc>Made by ppprof. Hover a frame for its numbers.</desc>\n");
	appendStringInfo(out,
					 "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
					 PP_SVG_WIDTH, height);
	appendStringInfo(out,
					 "<text class=\"title\" x=\"%d\" y=\"22\" text-anchor=\"middle\""
					 " font-size=\"16\" font-weight=\"bold\">",
					 PP_SVG_WIDTH / 2);
	pp_svg_text(out, title, strlen(title), 150);
	appendStringInfoString(out, "</text>\n");
	if (subtitle)
	{
		appendStringInfo(out,
						 "<text class=\"subtitle\" x=\"%d\" y=\"40\" text-anchor=\"middle\" fill=\"#555555\">",
						 PP_SVG_WIDTH / 2);
		pp_svg_text(out, subtitle, strlen(subtitle), 200);
		appendStringInfoString(out, "</text>\n");
	}
}

void
pp_svg_end(StringInfo out)
{
	appendStringInfoString(out, "</svg>\n");
}

/*
 * The seeded operation types have fixed colours; any other type (types
 * are free text in operation_categories) gets a light colour from its name,
 * the same in every graph.
 */
const char *
pp_svg_type_colour(const char *type)
{
	static const struct
	{
		const char *type;
		const char *colour;
	}			fixed[] = {
		{"retrieval", "#7fb3d5"},
		{"embedding_generation", "#b39ddb"},
		{"llm_generation", "#f5a65b"},
		{"cache_lookup", "#8fd19e"},
		{"database_query", "#e8c547"},
		{"api_call", "#f28fb1"},
		{"other", "#c8c8c8"},
	};
	uint32		h;
	int			i;
	char	   *buf;

	for (i = 0; i < lengthof(fixed); i++)
		if (strcmp(type, fixed[i].type) == 0)
			return fixed[i].colour;

	/* a pastel from the name's hash: each channel in [140, 235] */
	h = hash_bytes((const unsigned char *) type, (int) strlen(type));
	buf = palloc(8);
	snprintf(buf, 8, "#%02x%02x%02x",
			 140 + (h & 0xff) % 96, 140 + ((h >> 8) & 0xff) % 96,
			 140 + ((h >> 16) & 0xff) % 96);
	return buf;
}

void
pp_svg_frame(StringInfo out, const PPSvgFrame *f)
{
	size_t		fits;

	appendStringInfo(out, "<g class=\"frame\" id=\"f%d\"", f->id);
	if (f->parent >= 0)
		appendStringInfo(out, " data-parent=\"f%d\"", f->parent);
	appendStringInfo(out, " data-ms=\"%.3f\"", f->ms);
	if (f->scale != 1)
		appendStringInfo(out, " data-scale=\"%.6f\"", f->scale);
	appendStringInfo(out, "><title>%s</title>", f->tooltip);
	appendStringInfo(out,
					 "<rect x=\"%.3f\" y=\"%.0f\" width=\"%.3f\" height=\"%d\""
					 " fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"/>",
					 f->x, f->y, f->width, PP_SVG_FRAME_HEIGHT - 1, f->fill,
					 f->failed ? "#c0392b" : "#ffffff",
					 f->failed ? "1.5" : "0.5");

	/* the label when at least three characters fit */
	fits = f->width > 6 ? (size_t) ((f->width - 6) / PP_SVG_CHAR_WIDTH) : 0;
	if (fits >= 3)
	{
		size_t		suffix_len = f->suffix ? strlen(f->suffix) + 1 : 0;

		appendStringInfo(out, "<text x=\"%.3f\" y=\"%.0f\">",
						 f->x + 3, f->y + PP_SVG_FRAME_HEIGHT - 5);
		if (suffix_len > 0 && fits >= suffix_len + 3)
		{
			pp_svg_text(out, f->name, f->name_len, fits - suffix_len);
			appendStringInfoChar(out, ' ');
			pp_svg_text(out, f->suffix, suffix_len - 1, 0);
		}
		else
			pp_svg_text(out, f->name, f->name_len, fits);
		appendStringInfoString(out, "</text>");
	}
	appendStringInfoString(out, "</g>\n");
}

/*
 * Lay out the legend from y (draw: write it); returns the height it takes.
 * Entries wrap to a new line at the right margin.
 */
static int
svg_legend(StringInfo out, int y, const char *const *labels,
		   const char *const *colours, int n, bool draw)
{
	double		x = PP_SVG_MARGIN;
	int			top = y;
	int			i;

	for (i = 0; i < n; i++)
	{
		size_t		len = Min(strlen(labels[i]), 40);
		double		w = 16 + PP_SVG_CHAR_WIDTH * len + 14;

		if (x > PP_SVG_MARGIN && x + w > PP_SVG_WIDTH - PP_SVG_MARGIN)
		{
			x = PP_SVG_MARGIN;
			y += 16;
		}
		if (draw)
		{
			appendStringInfo(out,
							 "<rect x=\"%.0f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
							 "<text x=\"%.0f\" y=\"%d\">",
							 x, y, colours[i], x + 16, y + 10);
			pp_svg_text(out, labels[i], strlen(labels[i]), 40);
			appendStringInfoString(out, "</text>\n");
		}
		x += w;
	}
	return y - top + 16;
}

int
pp_svg_legend_height(const char *const *labels, int n)
{
	return svg_legend(NULL, 0, labels, NULL, n, false);
}

void
pp_svg_legend(StringInfo out, int y, const char *const *labels,
			  const char *const *colours, int n)
{
	(void) svg_legend(out, y, labels, colours, n, true);
}
