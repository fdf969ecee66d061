// IEEE 754 binary16 (FP16) conversions, for the KServe v2 codec and the output
// policies (src/guard), which both read and write FP16 tensors.
//
// JSON carries FP16 values as decimal numbers, so requests need a correctly
// rounded double -> binary16 conversion and responses need binary16 -> float.
// Converting double -> float -> half would round twice and can be off by one ulp
// at ties, so the conversion goes from the double's bits directly, rounding to
// nearest, ties to even. Written by hand to avoid a dependency for ~40 lines.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>

namespace aegis::runtime {

// The binary16 nearest to `value` (ties to even). nullopt when a finite `value`
// rounds to infinity (|value| >= 65520), which the codec reports as out of range
// rather than silently turning a number into Inf. Infinities and NaN map to their
// binary16 counterparts (NaN becomes the quiet NaN 0x7e00, keeping the sign).
std::optional<uint16_t> DoubleToHalf(double value);

// Exact: every binary16 value is representable as a float.
float HalfToFloat(uint16_t half);

}  // namespace aegis::runtime
