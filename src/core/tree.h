/*-------------------------------------------------------------------------
 *
 * src/core/tree.h
 *	  Walk and validate one profile tree (a TimingRecord as Python's
 *	  dataclasses.asdict writes it) and compute every node's duration and
 *	  self time, without recursion and without knowing how the JSON is stored.
 *
 * The walker reads the document through a pp_tree_source_t: the server glue
 * implements it over a JsonbContainer (walked in place), the unit tests and
 * fuzz targets over jansson.  A source hands out opaque node handles; a
 * handle must stay valid until the walk ends.
 *
 * Nodes are numbered in pre-order (document order): node 0 is the root.  The
 * result keeps, per node, its parent and its index in the parent's children
 * array, so that a node's JSON path can be rebuilt on demand
 * (pp_tree_node_path) instead of being formatted for every node.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PP_TREE_H
#define PP_TREE_H

#include "pp_core.h"

typedef enum pp_json_type_t
{
	PP_JSON_ABSENT = 0,			/* key not present */
	PP_JSON_NULL,
	PP_JSON_BOOL,
	PP_JSON_NUMBER,
	PP_JSON_STRING,
	PP_JSON_ARRAY,
	PP_JSON_OBJECT
} pp_json_type_t;

extern const char *pp_json_type_name(pp_json_type_t type);

/* One key of a node as the source reports it. */
typedef struct pp_field_t
{
	pp_json_type_t type;
	double		num;			/* NUMBER: the value; +-HUGE_VAL when it does
								 * not fit a double */
	const char *str;			/* STRING: bytes, not NUL-terminated */
	size_t		len;			/* STRING: byte length; ARRAY: element count */
} pp_field_t;

/* The keys the walker reads; every other key is ignored. */
typedef struct pp_node_fields_t
{
	pp_field_t	operation_name;
	pp_field_t	start_time;		/* seconds (epoch or any origin) */
	pp_field_t	end_time;		/* seconds, same origin */
	pp_field_t	duration_ms;
	pp_field_t	metadata;
	pp_field_t	children;
	pp_field_t	error;

	/*
	 * What metadata says of a cache lookup: PP_CACHE_HIT, PP_CACHE_MISS or
	 * PP_CACHE_UNKNOWN.  The source reads it (metadata.cache "hit"/"miss",
	 * or metadata.cache_hit true/false); the walker only carries it.
	 */
	int			cache;

	/*
	 * The metadata object as the source's own handle (for the server, a
	 * JsonbContainer), NULL when the source has none; the walker only
	 * carries it, so that usage can be read from it later (src/usage.c).
	 */
	const void *metadata_handle;
} pp_node_fields_t;

#define PP_CACHE_UNKNOWN 0
#define PP_CACHE_HIT 1
#define PP_CACHE_MISS 2

typedef struct pp_tree_source_t
{
	/*
	 * Return the JSON type of the value behind 'node'; when it is an object,
	 * fill *fields (absent keys have type PP_JSON_ABSENT).
	 */
	pp_json_type_t (*read_node) (void *state, const void *node,
								 pp_node_fields_t *fields);

	/*
	 * Return a handle on element i of the children array of 'node'
	 * (0 <= i < fields.children.len as read_node reported it).
	 */
	const void *(*child) (void *state, const void *node, size_t i);

	void	   *state;
} pp_tree_source_t;

typedef struct pp_tree_limits_t
{
	int			max_depth;		/* the root is depth 1 */
	int			max_nodes;
	size_t		max_name_length;	/* bytes */
} pp_tree_limits_t;

/* One node, as the statistics consume it. */
typedef struct pp_tree_node_t
{
	const char *name;			/* points into the source; not NUL-terminated */
	size_t		name_len;
	double		duration_ms;	/* duration_ms, or (end - start) * 1000 */
	double		self_ms;		/* duration minus the children's time, >= 0 */
	double		start_time;		/* valid when has_start */
	double		end_time;		/* valid when has_end */
	bool		has_start;
	bool		has_end;
	bool		failed;			/* error is a string */
	const char *error;			/* failed: the error text, pointing into the
								 * source; not NUL-terminated */
	size_t		error_len;		/* failed: its byte length */
	int8_t		cache;			/* PP_CACHE_*, from metadata */
	const void *metadata;		/* the source's metadata handle, or NULL;
								 * valid while the source is */
	int			depth;			/* root = 1 */
	int32_t		parent;			/* pre-order index of the parent, -1 for root */
	int32_t		child_index;	/* index in the parent's children array */
	int32_t		n_children;
} pp_tree_node_t;

typedef struct pp_tree_t
{
	pp_tree_node_t *nodes;		/* n_nodes entries, pre-order */
	int32_t		n_nodes;
	int			max_depth_seen;
	const pp_allocator_t *allocator;
} pp_tree_t;

/*
 * Walk the document whose root handle is 'root'.  On success fill *tree and
 * return PP_OK; on failure fill *err (code, JSON path, text), leave *tree
 * empty and return the code.  The first error in document order wins.
 * Rules (the error text names what was expected):
 *	- the root and every child are objects
 *	- operation_name: required, non-empty string, at most max_name_length bytes
 *	- start_time: absent, or a finite number (null is an error)
 *	- end_time: absent, null, or a finite number; end_time >= start_time
 *	- duration_ms: absent, null, or a finite number in [0, 1e9]; when absent
 *	  or null, start_time and end_time are required and give the duration
 *	- metadata: absent, null or an object
 *	- error: absent, null or a string (a string marks the node failed)
 *	- children: absent, null or an array of objects
 *	- depth <= max_depth, nodes <= max_nodes
 * Self time is the duration minus the union of the children's
 * [start_time, end_time] intervals when every child has both, otherwise minus
 * the sum of the children's durations; never below zero.  The union is
 * rounded to the microsecond, the precision of epoch timestamps in seconds.
 */
extern pp_error_code_t pp_tree_walk(const pp_tree_source_t *source,
									const void *root,
									const pp_tree_limits_t *limits,
									const pp_allocator_t *allocator,
									pp_tree_t *tree, pp_error_t *err);

/*
 * Write the JSON path of node i ("$", "$.children[0].children[3]") into buf
 * (NUL-terminated, truncated to size).  Returns the full length.
 */
extern size_t pp_tree_node_path(const pp_tree_t *tree, int32_t i,
								char *buf, size_t size);

#define PP_MAX_DURATION_MS 1e9

/*
 * start_time and end_time are seconds since the epoch (Python's time.time(),
 * as TimingRecord records them); 1e11 s is the year 5138, while milliseconds
 * since the epoch are above 1e12 since 2001.
 */
#define PP_MAX_EPOCH_SECONDS 1e11

/* The limits pp_tree_walk applies when it is passed NULL limits */
#define PP_TREE_DEFAULT_MAX_DEPTH 100
#define PP_TREE_DEFAULT_MAX_NODES 10000
#define PP_TREE_DEFAULT_MAX_NAME_LENGTH 200

#endif							/* PP_TREE_H */
