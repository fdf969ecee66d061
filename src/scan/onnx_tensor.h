// ONNX TensorProto / SparseTensorProto contents, checked before any engine reads
// them: engines size their buffers from the declared dims and copy from the data
// fields without comparing the two (OpenCV read past raw_data that was shorter
// than its dims declared and crashed).
//
// A tensor's element count is the product of its dims (1 for a scalar). Checked:
//   - dims: not negative, below 2^31 each (engines keep them in int), and a
//     product that fits: at most max_tensor_bytes of declared data;
//   - data_type: a known ONNX element type (1..20);
//   - inline data: raw_data holds exactly count x element-size bytes, or the one
//     typed field of that type (float_data, int32_data, int64_data, double_data,
//     uint64_data, string_data; complex types two numbers per element) holds
//     exactly count values; no field of another type, not both raw and typed
//     data, no data at all only for zero elements; segments refused;
//   - external data: no inline data beside it; its declared size is returned so
//     the folder scan can compare it with the bytes the reference covers;
//   - sparse tensors: dims as above, values one-dimensional, indices INT64 of
//     shape [NNZ] or [NNZ, rank] and inside the dense shape.
// Declared sizes that engines would trust are critical findings; unknown types
// and unsupported layouts are high.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "scan_internal.h"

namespace aegis::scan::internal {

struct TensorCheck {
  bool external = false;        // data lives in another file
  uint64_t declared_bytes = 0;  // count x element size (0 for strings or when unknown)
  bool sized = false;           // declared_bytes is meaningful
};

// Checks one TensorProto. A wire-format error is a Status; everything else is a
// finding at `where`.
StatusOr<TensorCheck> CheckOnnxTensor(std::span<const uint8_t> tensor, const std::string& where,
                                      const ScanLimits& limits, FindingList& out);

// Checks a SparseTensorProto's shape and indices (its values and indices tensors
// are also checked as tensors by the caller).
Status CheckOnnxSparseTensor(std::span<const uint8_t> sparse, const std::string& where, const ScanLimits& limits,
                             FindingList& out);

}  // namespace aegis::scan::internal
