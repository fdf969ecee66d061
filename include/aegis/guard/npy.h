// ParseNpy: a NumPy .npy array (format versions 1.0, 2.0 and 3.0) as a
// baseline sample input: the first dimension is the rows, the others the
// features (flattened in C order).
//
// The file is untrusted: the header is parsed strictly (a Python dict literal
// with exactly the keys 'descr', 'fortran_order' and 'shape', at most 64 KiB),
// and refused with a message naming the problem when it is malformed, when the
// array is in Fortran order, when its dtype is not a little-endian (or
// byte-sized) integer or float of 1, 2, 4 or 8 bytes (object, string, bool,
// complex, structured and big-endian arrays are refused), when it has fewer
// than 2 dimensions, when its sizes overflow or exceed the baseline limits
// (baseline.h), or when the data is shorter or longer than the shape says.
//
// Thread-safety: a pure function.
#pragma once

#include <span>
#include <string>

#include "aegis/common/status.h"
#include "aegis/guard/baseline.h"

namespace aegis::guard {

inline constexpr size_t kMaxNpyHeaderBytes = size_t{64} * 1024;

// The array in `bytes` as the sample input `name`. InvalidArgument otherwise.
StatusOr<SampleInput> ParseNpy(std::span<const uint8_t> bytes, std::string name);

// Whether `bytes` starts with the .npy magic ("\x93NUMPY").
bool LooksLikeNpy(std::span<const uint8_t> bytes);

}  // namespace aegis::guard
