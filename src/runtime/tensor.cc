// Datatype tables and input validation against a model's signature.
#include "aegis/runtime/tensor.h"

#include <array>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace aegis::runtime {
namespace {

struct DataTypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

// Indexed by the enum's value; the static_assert below keeps the two in step.
constexpr std::array<DataTypeInfo, 13> kDataTypes = {{
    {DataType::kBool, "BOOL", 1},
    {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2},
    {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8},
    {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},
    {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},
    {DataType::kFp16, "FP16", 2},
    {DataType::kFp32, "FP32", 4},
    {DataType::kFp64, "FP64", 8},
    {DataType::kBytes, "BYTES", 0},
}};
static_assert(kDataTypes[static_cast<size_t>(DataType::kBytes)].type == DataType::kBytes);

const DataTypeInfo* Info(DataType type) {
  size_t index = static_cast<size_t>(type);
  return index < kDataTypes.size() ? &kDataTypes[index] : nullptr;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

// BYTES data is a sequence of (4-byte little-endian length, bytes); it must hold
// exactly `count` elements and nothing else.
Status CheckBytesData(const Tensor& tensor, uint64_t count) {
  const std::vector<uint8_t>& data = tensor.data;
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (data.size() - pos < 4) {
      return Status::InvalidArgument("malformed BYTES data in input '" + tensor.name + "': element " +
                                     std::to_string(i) + " has no length prefix");
    }
    uint32_t length = uint32_t{data[pos]} | uint32_t{data[pos + 1]} << 8 | uint32_t{data[pos + 2]} << 16 |
                      uint32_t{data[pos + 3]} << 24;
    pos += 4;
    if (data.size() - pos < length) {
      return Status::InvalidArgument("malformed BYTES data in input '" + tensor.name + "': element " +
                                     std::to_string(i) + " runs past the end of the data");
    }
    pos += length;
  }
  if (pos != data.size()) {
    return Status::InvalidArgument("malformed BYTES data in input '" + tensor.name +
                                   "': " + std::to_string(data.size() - pos) + " bytes after the last of " +
                                   std::to_string(count) + " elements");
  }
  return Status::Ok();
}

Status CheckAgainstSpec(const TensorSpec& spec, const Tensor& tensor) {
  const std::string& name = tensor.name;
  if (spec.datatype_fixed && tensor.datatype != spec.datatype) {
    return Status::InvalidArgument("input '" + name + "' has datatype " + std::string(DataTypeName(tensor.datatype)) +
                                   " but the model expects " + std::string(DataTypeName(spec.datatype)));
  }
  if (!spec.datatype_fixed && tensor.datatype == DataType::kBytes) {
    return Status::InvalidArgument("input '" + name + "' has datatype BYTES but the model expects a numeric datatype");
  }
  if (spec.rank_known) {
    if (tensor.shape.size() != spec.shape.size()) {
      return Status::InvalidArgument("input '" + name + "' has rank " + std::to_string(tensor.shape.size()) +
                                     " but the model expects rank " + std::to_string(spec.shape.size()) + " " +
                                     ShapeString(spec.shape));
    }
    for (size_t i = 0; i < spec.shape.size(); ++i) {
      if (spec.shape[i] >= 0 && tensor.shape[i] != spec.shape[i]) {
        return Status::InvalidArgument("dimension " + std::to_string(i) + " of '" + name + "' must be " +
                                       std::to_string(spec.shape[i]) + " but is " + std::to_string(tensor.shape[i]));
      }
    }
  }
  for (size_t i = 0; i < tensor.shape.size(); ++i) {
    if (tensor.shape[i] < 0) {
      return Status::InvalidArgument("dimension " + std::to_string(i) + " of '" + name + "' is negative (" +
                                     std::to_string(tensor.shape[i]) + ")");
    }
  }
  std::optional<uint64_t> count = tensor.ElementCount();
  if (!count) return Status::InvalidArgument("shape " + ShapeString(tensor.shape) + " of '" + name + "' is too large");
  if (tensor.datatype == DataType::kBytes) return CheckBytesData(tensor, *count);
  uint64_t element_size = DataTypeSize(tensor.datatype);
  if (*count > std::numeric_limits<uint64_t>::max() / element_size) {
    return Status::InvalidArgument("shape " + ShapeString(tensor.shape) + " of '" + name + "' is too large");
  }
  uint64_t expected = *count * element_size;
  if (tensor.data.size() != expected) {
    return Status::InvalidArgument("data length mismatch for input '" + name + "': shape " + ShapeString(tensor.shape) +
                                   " of " + std::string(DataTypeName(tensor.datatype)) + " needs " +
                                   std::to_string(expected) + " bytes but " + std::to_string(tensor.data.size()) +
                                   " were given");
  }
  return Status::Ok();
}

}  // namespace

std::string_view DataTypeName(DataType type) {
  const DataTypeInfo* info = Info(type);
  return info ? info->name : "INVALID";
}

std::optional<DataType> ParseDataType(std::string_view name) {
  for (const DataTypeInfo& info : kDataTypes) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

size_t DataTypeSize(DataType type) {
  const DataTypeInfo* info = Info(type);
  return info ? info->size : 0;
}

namespace {

std::optional<uint64_t> ProductOf(const std::vector<int64_t>& shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    uint64_t d = static_cast<uint64_t>(dim);
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / d) return std::nullopt;
    count *= d;
  }
  return count;
}

}  // namespace

std::optional<uint64_t> Tensor::ElementCount() const { return ProductOf(shape); }

std::optional<uint64_t> TensorView::ElementCount() const { return ProductOf(shape); }

std::vector<TensorView> ViewsOf(const std::vector<Tensor>& tensors) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const Tensor& t : tensors) views.push_back({t.name, t.datatype, t.shape, t.data});
  return views;
}

Status ValidateInputs(const ModelSignature& signature, const std::vector<Tensor>& inputs) {
  std::unordered_map<std::string_view, const TensorSpec*> specs;
  for (const TensorSpec& spec : signature.inputs) specs.emplace(spec.name, &spec);
  std::unordered_set<std::string_view> seen;
  for (const Tensor& tensor : inputs) {
    auto it = specs.find(tensor.name);
    if (it == specs.end()) return Status::InvalidArgument("unknown input '" + tensor.name + "'");
    if (!seen.insert(tensor.name).second) return Status::InvalidArgument("duplicate input '" + tensor.name + "'");
    AEGIS_RETURN_IF_ERROR(CheckAgainstSpec(*it->second, tensor));
  }
  for (const TensorSpec& spec : signature.inputs) {
    if (!seen.contains(spec.name)) return Status::InvalidArgument("missing input '" + spec.name + "'");
  }
  return Status::Ok();
}

}  // namespace aegis::runtime
