/*-------------------------------------------------------------------------
 *
 * client/otlp_proto.h
 *	  OTLP protobuf in and out for ppprof collect (otlp_proto.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PPPROF_OTLP_PROTO_H
#define PPPROF_OTLP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* deepest nesting of arrayValue / kvlistValue a request may have */
#define OTLP_PROTO_MAX_NESTING 32
/* most messages (spans, attributes, values, ...) one request may hold */
#define OTLP_PROTO_MAX_MESSAGES 1000000

/*
 * Decode a binary ExportTraceServiceRequest (or TracesData, which has the
 * same wire form) of len bytes into its OTLP/JSON form, as pp_ingest_otlp
 * takes it: lowerCamelCase keys, ids in hex, times and 64-bit integers as
 * decimal strings, enums as numbers, bytes values in base64.  Returns a new
 * reference, or NULL with one line in err saying what is wrong and at which
 * byte offset (the message never quotes the input's content).
 */
extern json_t *otlp_proto_decode(const uint8_t *buf, size_t len,
								 char *err, size_t errsize);

/*
 * An ExportTraceServiceResponse: empty when rejected is 0 and there is no
 * message, else its partial_success with rejected and message (NULL for
 * none).  The bytes go to *out (malloc'd; NULL when out of memory) and
 * their number is returned.
 */
extern size_t otlp_proto_response(int64_t rejected, const char *message,
								  uint8_t **out);

/* A google.rpc.Status {code, message}, the body of an error answer. */
extern size_t otlp_proto_status(int32_t code, const char *message,
								uint8_t **out);

#endif							/* PPPROF_OTLP_PROTO_H */
