// Decoding an input's JSON `data` array into tensor bytes (the typed core of the
// KServe v2 request parser).
//
// The protocol allows `data` flat (row-major) or nested exactly as the shape; both
// are accepted, and when nested every level's length must equal its dimension.
// Recursion is bounded by the rank the caller has already capped. Every element's
// JSON type must fit the datatype exactly: BOOL takes true/false; integer types
// take JSON integers within range (not 1.0, not 300 for UINT8, not -1 for UINT*);
// FP16/FP32/FP64 take any JSON number that is finite in the target type; BYTES
// takes strings.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <simdjson.h>

#include "aegis/common/status.h"
#include "aegis/runtime/tensor.h"

namespace aegis::api::internal {

// Fills `tensor.data` from `data` (any JSON value; non-arrays are refused) for
// tensor.datatype and tensor.shape, whose element count is `count`. Errors name
// the input and the first offending element.
Status DecodeJsonData(simdjson::dom::element data, uint64_t count, runtime::Tensor& tensor);

// "[2,4]" for error messages.
std::string ShapeString(const std::vector<int64_t>& shape);

// "input 'name'" for error messages; long client-chosen names are cut short so an
// error message stays small.
std::string InputLabel(std::string_view name);

}  // namespace aegis::api::internal
