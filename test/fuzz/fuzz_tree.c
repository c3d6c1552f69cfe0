/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_tree.c
 *	  libFuzzer target: the profile walker and the shape facts on arbitrary
 *	  JSON text.
 *
 * The bytes are parsed with jansson (as the C client would) and walked with
 * small limits, so that deep and wide documents reach the limit checks
 * quickly; a walked tree also goes through pp_tree_shapes and
 * pp_tree_node_path.  Any crash, leak or sanitizer report is a finding.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "json_source.h"
#include "patterns.h"

static const char *
type_of(void *arg, int32_t i)
{
	const pp_tree_t *tree = arg;

	/* a stable string per node: the first byte of its name decides */
	return tree->nodes[i].name_len > 0 && (tree->nodes[i].name[0] & 1) ? "odd" : "even";
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pp_tree_limits_t limits = {40, 2000, 200};
	pp_tree_t	tree;
	pp_error_t	err;
	json_t	   *doc = NULL;

	if (pp_json_source_walk_text((const char *) data, size, &limits, NULL,
								 &doc, &tree, &err) == PP_OK)
	{
		pp_node_shape_t *shapes = malloc(sizeof(pp_node_shape_t) * (size_t) tree.n_nodes);
		char		path[64];

		if (shapes != NULL)
		{
			(void) pp_tree_shapes(&tree, type_of, &tree, NULL, shapes);
			free(shapes);
		}
		(void) pp_tree_node_path(&tree, tree.n_nodes - 1, path, sizeof(path));
		tree_release(&tree);
	}
	else if (err.path[0] != '$')
		__builtin_trap();		/* every error names a JSON path */
	pp_json_decref_deep(doc);
	return 0;
}
