// A structural validator for Universal Binary JSON as XGBoost writes it (draft 12:
// big-endian numbers; containers optionally typed `[$T#n` / `{$T#n` or counted
// `[#n`; object keys are lengths plus bytes without the 'S' marker). It keeps its
// own stack (no recursion), refuses nesting deeper than `max_depth`, and checks
// every length and count against the bytes left, so that the real parser, which
// trusts counts, is never asked to allocate for data that is not there.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::scan::internal {

struct UbjSummary {
  char root = 0;  // marker of the top-level value ('{' for XGBoost)
  // Keys of a top-level object with the marker of each value ('{', '[', 'S', 'i'…),
  // up to a few thousand.
  std::vector<std::pair<std::string, char>> top_level_keys;
};

StatusOr<UbjSummary> ValidateUbj(std::span<const uint8_t> bytes, int max_depth);

}  // namespace aegis::scan::internal
