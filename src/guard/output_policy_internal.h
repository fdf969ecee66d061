// Helpers shared by output_policy.cc and output_transforms.cc (internal to src/guard).
//
// Thread-safety: pure functions.
#pragma once

#include "aegis/runtime/tensor.h"

namespace aegis::guard::internal {

// The datatypes an output policy transforms: the floating-point ones, which
// carry scores. Integers, BOOL and BYTES are already labels, counts or text.
inline bool IsScore(runtime::DataType type) {
  return type == runtime::DataType::kFp16 || type == runtime::DataType::kFp32 || type == runtime::DataType::kFp64;
}

// `v` rounded to `decimals` (0..6) decimal places, half away from zero, decided
// on the exact binary value (2.675 is 2.67499999999999982236431605997495353221893310546875,
// so it rounds to 2.67). NaN and infinities are returned unchanged, and so are
// values so large that a double's own spacing there is already about 10^-decimals.
double RoundDecimal(double v, int decimals);

}  // namespace aegis::guard::internal
