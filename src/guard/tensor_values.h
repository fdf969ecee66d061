// Numeric tensor data as floats, for the baseline and screening (internal to
// the guard module).
//
// Thread-safety: pure functions.
#pragma once

#include <cstring>
#include <vector>

#include "aegis/runtime/tensor.h"

namespace aegis::guard::internal {

// Whether screening reads this datatype: every integer and FP32/FP64 (BOOL is
// a flag, BYTES text, FP16 rare enough not to be worth a converter).
inline bool Screenable(runtime::DataType t) {
  return t != runtime::DataType::kBool && t != runtime::DataType::kBytes && t != runtime::DataType::kFp16;
}

template <typename T>
void ConvertValues(const uint8_t* data, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

// `n` elements of a screenable datatype from `data` into `out`.
inline void ToFloats(runtime::DataType t, const uint8_t* data, size_t n, float* out) {
  using runtime::DataType;
  switch (t) {
    case DataType::kUint8:
      return ConvertValues<uint8_t>(data, n, out);
    case DataType::kUint16:
      return ConvertValues<uint16_t>(data, n, out);
    case DataType::kUint32:
      return ConvertValues<uint32_t>(data, n, out);
    case DataType::kUint64:
      return ConvertValues<uint64_t>(data, n, out);
    case DataType::kInt8:
      return ConvertValues<int8_t>(data, n, out);
    case DataType::kInt16:
      return ConvertValues<int16_t>(data, n, out);
    case DataType::kInt32:
      return ConvertValues<int32_t>(data, n, out);
    case DataType::kInt64:
      return ConvertValues<int64_t>(data, n, out);
    case DataType::kFp32:
      std::memcpy(out, data, n * sizeof(float));
      return;
    case DataType::kFp64:
      return ConvertValues<double>(data, n, out);
    default:
      return;
  }
}

}  // namespace aegis::guard::internal
