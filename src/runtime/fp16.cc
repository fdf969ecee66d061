// binary16 conversions; see fp16.h for why these are hand-written.
#include "aegis/runtime/fp16.h"

#include <bit>

namespace aegis::runtime {
namespace {

constexpr int kDoubleMantissaBits = 52;
constexpr int kDoubleBias = 1023;
constexpr int kHalfMantissaBits = 10;
constexpr int kHalfBias = 15;
constexpr uint16_t kHalfInf = 0x7c00;

// `significand >> shift`, rounded to nearest with ties to even. shift in [1, 63].
uint64_t ShiftRoundNearestEven(uint64_t significand, int shift) {
  const uint64_t kept = significand >> shift;
  const uint64_t rest = significand & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  if (rest > half || (rest == half && (kept & 1) != 0)) return kept + 1;
  return kept;
}

}  // namespace

std::optional<uint16_t> DoubleToHalf(double value) {
  const uint64_t bits = std::bit_cast<uint64_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 48) & 0x8000);
  const int biased_exponent = static_cast<int>((bits >> kDoubleMantissaBits) & 0x7ff);
  const uint64_t mantissa = bits & ((uint64_t{1} << kDoubleMantissaBits) - 1);

  if (biased_exponent == 0x7ff) {  // Inf or NaN pass through.
    return static_cast<uint16_t>(sign | kHalfInf | (mantissa != 0 ? 0x0200 : 0));
  }
  if (biased_exponent == 0) {
    // Zero or a double subnormal (< 2^-1022): far below half of the smallest
    // binary16 subnormal (2^-25), so it rounds to a signed zero.
    return sign;
  }
  const int exponent = biased_exponent - kDoubleBias;
  if (exponent > kHalfBias) return std::nullopt;  // >= 2^16: beyond 65504 even before rounding.

  uint64_t magnitude;
  if (exponent >= 1 - kHalfBias) {
    // Normal range: keep 10 mantissa bits. A rounding carry out of the mantissa
    // lands in the exponent field, which is exactly the next binade.
    const int half_exponent = exponent + kHalfBias;  // 1..30 here
    const uint64_t biased = static_cast<uint64_t>(half_exponent);
    const uint64_t packed = (biased << kDoubleMantissaBits) | mantissa;
    magnitude = ShiftRoundNearestEven(packed, kDoubleMantissaBits - kHalfMantissaBits);
  } else {
    // Subnormal range: the value is significand * 2^(exponent - 52) and the unit
    // of a binary16 subnormal is 2^-24, so shift right by 28 - exponent. Values
    // below 2^-25 (shift > 53) round to zero; a carry to 0x400 is the smallest normal.
    const int shift = (kDoubleMantissaBits - 24) - exponent;
    if (shift > kDoubleMantissaBits + 1) return sign;
    const uint64_t significand = mantissa | (uint64_t{1} << kDoubleMantissaBits);
    magnitude = ShiftRoundNearestEven(significand, shift);
  }
  if (magnitude >= kHalfInf) return std::nullopt;
  return static_cast<uint16_t>(sign | magnitude);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> kHalfMantissaBits) & 0x1f;
  uint32_t mantissa = half & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent - kHalfBias + 127) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise into a float (whose range easily covers 2^-24).
    int e = 1 - kHalfBias;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e + 127) << 23) | ((mantissa & 0x3ff) << 13);
  }
  return std::bit_cast<float>(bits);
}

}  // namespace aegis::runtime
