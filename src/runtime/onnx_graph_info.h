// ReadOnnxGraphInfo: the graph inputs and outputs of a serialized ONNX ModelProto.
//
// OpenCV 4.6 has no public API for a graph's declared inputs (names, element types,
// shapes), so this reads just those fields from the protobuf wire format. The bytes
// are untrusted (they come from a model upload): every length is checked against
// the buffer, varints are limited to 10 bytes, only known message types are
// descended into (bounded nesting), counts are capped, and any malformed input
// yields an error Status, never a crash or an out-of-bounds read.
//
//   AEGIS_ASSIGN_OR_RETURN(OnnxGraphInfo info, ReadOnnxGraphInfo(bytes));
//   for (const OnnxValueInfo& in : info.inputs) ...  // initializers excluded
//
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::runtime {

// onnx.TensorProto.DataType values used by Aegis.
enum OnnxElemType : int32_t {
  kOnnxUndefined = 0,
  kOnnxFloat = 1,
  kOnnxUint8 = 2,
  kOnnxInt8 = 3,
  kOnnxUint16 = 4,
  kOnnxInt16 = 5,
  kOnnxInt32 = 6,
  kOnnxInt64 = 7,
  kOnnxString = 8,
  kOnnxBool = 9,
  kOnnxFloat16 = 10,
  kOnnxDouble = 11,
  kOnnxUint32 = 12,
  kOnnxUint64 = 13,
};

struct OnnxValueInfo {
  std::string name;
  bool is_tensor = false;  // TypeProto.tensor_type was present
  int32_t elem_type = kOnnxUndefined;
  bool has_shape = false;     // false: rank unknown
  std::vector<int64_t> dims;  // dim_value, or -1 for dim_param / unset
};

struct OnnxGraphInfo {
  std::vector<OnnxValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<OnnxValueInfo> outputs;
};

// Unprocessable with a description of the first problem when `model` is not a
// well-formed ModelProto with a graph.
StatusOr<OnnxGraphInfo> ReadOnnxGraphInfo(std::span<const uint8_t> model);

// "FLOAT", "INT64", ... for messages; "type 42" for unknown values.
std::string OnnxElemTypeName(int32_t elem_type);

}  // namespace aegis::runtime
