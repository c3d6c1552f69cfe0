/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_otlp_proto.c
 *	  libFuzzer target: the OTLP protobuf decoder of ppprof collect
 *	  (client/otlp_proto.c) on arbitrary bytes.
 *
 * A request that decodes must give a JSON object with a resourceSpans
 * array that jansson can write out; one that does not must say why in a
 * non-empty, terminated message.  The response and status encoders run on
 * values taken from the input.  Any crash, leak or sanitizer report is a
 * finding.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_proto.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		err[256];
	json_t	   *doc;
	uint8_t    *out = NULL;
	char		msg[64];
	int64_t		n = 0;

	memset(err, 'x', sizeof(err));
	doc = otlp_proto_decode(data, size, err, sizeof(err));
	if (doc == NULL)
	{
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
	}
	else
	{
		char	   *text;

		if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "resourceSpans")))
			abort();
		text = json_dumps(doc, JSON_COMPACT);
		if (text == NULL)
			abort();
		free(text);
		json_decref(doc);
	}

	memcpy(&n, data, size < sizeof(n) ? size : sizeof(n));
	snprintf(msg, sizeof(msg), "%.*s", (int) (size < 40 ? size : 40), (const char *) data);
	otlp_proto_response(n, msg, &out);
	free(out);
	otlp_proto_status((int32_t) n, msg, &out);
	free(out);
	return 0;
}
