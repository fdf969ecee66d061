// Structural validation of XGBoost models (JSON or UBJ, the layout libxgboost 1.7
// writes) before libxgboost parses them. libxgboost trusts what it loads: a child
// index outside the tree reads and writes out of bounds, a negative one or a
// cycle makes prediction loop forever, a split feature at or above num_feature
// reads past the feature vector, a huge num_feature sizes every buffer.
//
// Checked (findings name the tree and node):
//   learner_model_param   num_feature in [1, max_xgboost_features]; num_class and
//                         num_target bounded; the output groups trees may write to
//   gradient_booster      gbtree, dart (its gbtree and weight_drop) or gblinear
//                         (weights = (num_feature + 1) x groups); anything else
//   gbtree model          num_trees == len(trees) == len(tree_info), each tree's id
//                         a distinct index, tree_info values below the groups,
//                         num_parallel_tree sane, the tree count against the size
//                         of the file
//   every tree            num_nodes == the length of every node array; children
//                         -1 (leaf) or in range; a walk from the root reaches each
//                         node once (no cycle, no shared node, parents agree); nodes
//                         it does not reach are XGBoost's deleted nodes and number
//                         num_deleted; split features below num_feature; parents
//                         in range; categorical splits inside their arrays with
//                         categories in [0, 2^24) and bounded bitfields
//   feature_names/types   empty or num_feature long
//   duplicate keys        in every object read (readers disagree on which wins)
// Memory-unsafe or non-terminating structure is critical; the rest is high.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <span>

#include <simdjson.h>

#include "scan_internal.h"

namespace aegis::scan::internal {

void CheckXgboostJsonStructure(simdjson::dom::element root, uint64_t file_size, const ScanLimits& limits,
                               FindingList& out);
// `bytes` must be a document ValidateUbj accepted.
void CheckXgboostUbjStructure(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out);

}  // namespace aegis::scan::internal
