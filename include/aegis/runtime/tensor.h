// Tensors as the data plane sees them: a KServe v2 datatype, a shape and raw bytes.
//
// `data` is row-major, little-endian, densely packed: ElementCount() * size of the
// datatype bytes. BOOL is one byte per element (0 or 1). FP16 is IEEE binary16.
// BYTES elements are each a 4-byte little-endian length followed by that many
// bytes (the binary tensor data extension's layout), so one representation serves
// JSON and binary requests alike.
//
// Thread-safety: value types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aegis/common/status.h"

namespace aegis::runtime {

enum class DataType : uint8_t {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBytes,
};

// "FP32" etc. as in the KServe v2 protocol.
std::string_view DataTypeName(DataType type);
std::optional<DataType> ParseDataType(std::string_view name);
// Bytes per element; 0 for BYTES (variable).
size_t DataTypeSize(DataType type);

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  // Product of the shape; nullopt if a dimension is negative or the product overflows.
  std::optional<uint64_t> ElementCount() const;
};

// A tensor whose bytes live elsewhere: in a Tensor it was made from, or in the
// shared memory of an engine worker. Valid only while that storage is, and only
// meaningful once checked like a Tensor (the same layout rules apply to `data`).
struct TensorView {
  std::string_view name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;

  std::optional<uint64_t> ElementCount() const;
};

// Views of `tensors`, in order; valid while `tensors` is unchanged.
std::vector<TensorView> ViewsOf(const std::vector<Tensor>& tensors);

// What a model declares about one of its inputs or outputs. -1 in `shape` is a
// variable dimension; an empty shape with `rank_known == false` means unknown rank.
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  bool rank_known = true;
  // false when the engine cannot tell the datatype (TorchScript): any numeric
  // datatype is accepted and converted by the engine; `datatype` is the advertised default.
  bool datatype_fixed = true;
};

struct ModelSignature {
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

// Checks that `inputs` match `signature`: every input named once and known, every
// declared input present, datatype as declared (when fixed), rank and fixed
// dimensions as declared, and `data` exactly as long as shape × datatype requires
// (for BYTES: well-formed length prefixes covering exactly the data).
// InvalidArgument with a precise message otherwise.
Status ValidateInputs(const ModelSignature& signature, const std::vector<Tensor>& inputs);

}  // namespace aegis::runtime
