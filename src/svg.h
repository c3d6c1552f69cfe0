/*-------------------------------------------------------------------------
 *
 * src/svg.h
 *	  Writing self-contained SVG documents: escaped text, frames, colours.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_SVG_H
#define PP_SVG_H

#include "postgres.h"

#include "lib/stringinfo.h"

#define PP_SVG_WIDTH		1200	/* px */
#define PP_SVG_MARGIN		10		/* px, left and right */
#define PP_SVG_FRAME_HEIGHT	16		/* px per row, 1 px of it between rows */
#define PP_SVG_CHAR_WIDTH	7		/* px, of the 11 px font, on average */

/*
 * Append s (len bytes in the server encoding) as XML character data, safe
 * in text and in attribute values: markup characters as entities, every
 * character outside ASCII as a numeric character reference (so the
 * document is ASCII whatever the encodings), and characters XML does not
 * allow (control characters, invalid code points) as U+FFFD.  At most
 * max_chars characters, the last two replaced by ".." when s is longer
 * (0: no limit).
 */
extern void pp_svg_text(StringInfo out, const char *s, size_t len,
						size_t max_chars);

/* Milliseconds for reading: 2450 ms, 131.9 ms, 0.250 ms. */
extern void pp_svg_ms(StringInfo out, double ms);

/* The document's start (the title is escaped here) and end. */
extern void pp_svg_begin(StringInfo out, int height, const char *title,
						 const char *subtitle);
extern void pp_svg_end(StringInfo out);

/* The fill colour of an operation type ("#rrggbb"). */
extern const char *pp_svg_type_colour(const char *type);

/*
 * One frame: a <g> with id "f<id>" (and data-parent "f<parent>" unless
 * parent < 0), the tooltip (already escaped XML character data), a
 * rectangle and, when it fits, the label: the name cut to the width,
 * followed by suffix (escaped, may be NULL).  data-ms is the frame's own
 * measure and data-scale, when not 1, the factor its width was drawn at.
 */
typedef struct PPSvgFrame
{
	int32		id;
	int32		parent;
	double		x;				/* px */
	double		y;				/* px */
	double		width;			/* px */
	double		ms;
	double		scale;
	const char *fill;
	bool		failed;			/* drawn with a red outline */
	const char *name;
	size_t		name_len;
	const char *suffix;
	const char *tooltip;
} PPSvgFrame;

extern void pp_svg_frame(StringInfo out, const PPSvgFrame *f);

/*
 * A legend of colour swatches from y down, labels[i] in colours[i], in as
 * many lines as the width needs; pp_svg_legend_height says how high.
 */
extern int	pp_svg_legend_height(const char *const *labels, int n);
extern void pp_svg_legend(StringInfo out, int y, const char *const *labels,
						  const char *const *colours, int n);

#endif							/* PP_SVG_H */
