// ONNX tensor contents against their declared shapes. See onnx_tensor.h.
// Field numbers from onnx/onnx.proto3 (TensorProto, SparseTensorProto).
#include "onnx_tensor.h"

#include <optional>
#include <vector>

#include "aegis/common/protobuf_wire.h"

namespace aegis::scan::internal {
namespace {

using protobuf::kFixed32;
using protobuf::kFixed64;
using protobuf::kLengthDelimited;
using protobuf::kVarint;
using protobuf::ProtoField;
using protobuf::ProtoReader;

constexpr int64_t kMaxDim = INT32_MAX;
constexpr uint64_t kInt64 = 7;

// Typed data fields of TensorProto.
enum Field : uint32_t {
  kFloatData = 4,
  kInt32Data = 5,
  kStringData = 6,
  kInt64Data = 7,
  kDoubleData = 10,
  kUint64Data = 11
};
constexpr Field kTypedFields[] = {kFloatData, kInt32Data, kStringData, kInt64Data, kDoubleData, kUint64Data};

const char* FieldName(Field f) {
  switch (f) {
    case kFloatData:
      return "float_data";
    case kInt32Data:
      return "int32_data";
    case kStringData:
      return "string_data";
    case kInt64Data:
      return "int64_data";
    case kDoubleData:
      return "double_data";
    case kUint64Data:
      return "uint64_data";
  }
  return "?";
}

struct ElementType {
  const char* name;
  uint64_t size;  // bytes per element in raw_data; 0 for strings
  Field field;    // the typed field that holds it
  uint64_t per_element = 1;
};

std::optional<ElementType> TypeOf(uint64_t data_type) {
  switch (data_type) {
    case 1:
      return ElementType{"FLOAT", 4, kFloatData};
    case 2:
      return ElementType{"UINT8", 1, kInt32Data};
    case 3:
      return ElementType{"INT8", 1, kInt32Data};
    case 4:
      return ElementType{"UINT16", 2, kInt32Data};
    case 5:
      return ElementType{"INT16", 2, kInt32Data};
    case 6:
      return ElementType{"INT32", 4, kInt32Data};
    case 7:
      return ElementType{"INT64", 8, kInt64Data};
    case 8:
      return ElementType{"STRING", 0, kStringData};
    case 9:
      return ElementType{"BOOL", 1, kInt32Data};
    case 10:
      return ElementType{"FLOAT16", 2, kInt32Data};
    case 11:
      return ElementType{"DOUBLE", 8, kDoubleData};
    case 12:
      return ElementType{"UINT32", 4, kUint64Data};
    case 13:
      return ElementType{"UINT64", 8, kUint64Data};
    case 14:
      return ElementType{"COMPLEX64", 8, kFloatData, 2};
    case 15:
      return ElementType{"COMPLEX128", 16, kDoubleData, 2};
    case 16:
      return ElementType{"BFLOAT16", 2, kInt32Data};
    case 17:
    case 18:
    case 19:
    case 20:
      return ElementType{"FLOAT8", 1, kInt32Data};
    default:
      return std::nullopt;
  }
}

// Visits the varints of a packed field; false if the last one is cut or too long.
template <typename Fn>
bool ForEachVarint(std::span<const uint8_t> bytes, Fn fn) {
  uint64_t value = 0;
  int shift = 0;
  for (uint8_t b : bytes) {
    if (shift >= 70) return false;
    if (shift < 64) value |= uint64_t{b & 0x7Fu} << shift;
    shift += 7;
    if ((b & 0x80) == 0) {
      fn(value);
      value = 0;
      shift = 0;
    }
  }
  return shift == 0;
}

struct Parsed {
  std::vector<int64_t> dims;
  uint64_t type = 0;
  bool segment = false;
  bool external = false;
  bool has_raw = false;
  std::span<const uint8_t> raw;
  uint64_t counts[12] = {};
  std::vector<int64_t> int64_values;  // int64_data, decoded (sparse indices)
};

Status Malformed(const std::string& why) { return ProtoReader::Malformed(why); }

Status Parse(std::span<const uint8_t> bytes, Parsed* p) {
  ProtoReader r(bytes);
  while (!r.done()) {
    ProtoField f;
    AEGIS_RETURN_IF_ERROR(r.Next(&f));
    auto count = [&](Field field, uint64_t n) { p->counts[field] += n; };
    switch (f.number) {
      case 1:
        if (f.wire_type == kVarint) {
          p->dims.push_back(static_cast<int64_t>(f.varint));
        } else if (f.wire_type != kLengthDelimited ||
                   !ForEachVarint(f.bytes, [&](uint64_t v) { p->dims.push_back(static_cast<int64_t>(v)); })) {
          return Malformed("tensor dims are not varints");
        }
        break;
      case 2:
        if (f.wire_type != kVarint) return Malformed("tensor data_type is not a varint");
        p->type = f.varint;
        break;
      case 3:
        p->segment = true;
        break;
      case kFloatData:
      case kDoubleData: {
        uint64_t width = f.number == kFloatData ? 4 : 8;
        uint32_t single = f.number == kFloatData ? kFixed32 : kFixed64;
        if (f.wire_type == single) {
          count(Field(f.number), 1);
        } else if (f.wire_type == kLengthDelimited && f.bytes.size() % width == 0) {
          count(Field(f.number), f.bytes.size() / width);
        } else {
          return Malformed(std::string(FieldName(Field(f.number))) + " has a length that is not a multiple of " +
                           std::to_string(width));
        }
        break;
      }
      case kInt32Data:
      case kInt64Data:
      case kUint64Data: {
        bool int64 = f.number == kInt64Data;
        if (f.wire_type == kVarint) {
          count(Field(f.number), 1);
          if (int64) p->int64_values.push_back(static_cast<int64_t>(f.varint));
        } else if (f.wire_type != kLengthDelimited || !ForEachVarint(f.bytes, [&](uint64_t v) {
                     count(Field(f.number), 1);
                     if (int64) p->int64_values.push_back(static_cast<int64_t>(v));
                   })) {
          return Malformed(std::string(FieldName(Field(f.number))) + " is not a list of varints");
        }
        break;
      }
      case kStringData:
        if (f.wire_type != kLengthDelimited) return Malformed("string_data is not length-delimited");
        count(kStringData, 1);
        break;
      case 9:
        if (f.wire_type != kLengthDelimited) return Malformed("raw_data is not length-delimited");
        p->has_raw = true;
        p->raw = f.bytes;
        break;
      case 13:
        p->external = true;
        break;
      case 14:
        if (f.wire_type == kVarint && f.varint == 1) p->external = true;
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

// The element count of `dims`, or the reason it is refused.
std::optional<uint64_t> ElementCount(const std::vector<int64_t>& dims, std::string* why) {
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      *why = "dimension " + std::to_string(d) + " is negative";
      return std::nullopt;
    }
    if (d > kMaxDim) {
      *why = "dimension " + std::to_string(d) + " does not fit in 32 bits";
      return std::nullopt;
    }
    uint64_t u = static_cast<uint64_t>(d);
    if (u != 0 && count > UINT64_MAX / u) {
      *why = "dimensions multiply past 2^64 elements";
      return std::nullopt;
    }
    count *= u;
  }
  return count;
}

std::string Dims(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size() && i < 8; ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + (dims.size() > 8 ? ", ...]" : "]");
}

}  // namespace

StatusOr<TensorCheck> CheckOnnxTensor(std::span<const uint8_t> tensor, const std::string& where,
                                      const ScanLimits& limits, FindingList& out) {
  Parsed p;
  AEGIS_RETURN_IF_ERROR(Parse(tensor, &p));
  TensorCheck result{p.external, 0, false};
  auto refuse = [&](Severity severity, const std::string& why) {
    out.Add(severity, where, "tensor " + why);
    return result;
  };
  std::string why;
  auto count = ElementCount(p.dims, &why);
  if (!count) return refuse(Severity::kCritical, why);
  if (p.segment) return refuse(Severity::kHigh, "is segmented (TensorProto.segment is not supported)");
  auto type = TypeOf(p.type);
  if (!type) return refuse(Severity::kHigh, "element type " + std::to_string(p.type) + " is not a known ONNX type");
  uint64_t limit = limits.max_tensor_bytes;
  if (type->size > 0) {
    if (*count > limit / type->size) {
      return refuse(Severity::kCritical, "of shape " + Dims(p.dims) + " declares more than " + std::to_string(limit) +
                                             " bytes of " + type->name + " data");
    }
    result.declared_bytes = *count * type->size;
    result.sized = true;
  } else if (*count > limit) {
    return refuse(Severity::kCritical, "of shape " + Dims(p.dims) + " declares more strings than the limit");
  }
  uint64_t typed = 0;
  for (Field f : kTypedFields) typed += p.counts[f];
  if (p.external) {
    if (p.has_raw || typed > 0) return refuse(Severity::kHigh, "has external data and inline data");
    return result;
  }
  std::string shape = std::string(type->name) + " tensor of shape " + Dims(p.dims);
  if (p.has_raw && typed > 0) return refuse(Severity::kCritical, "has both raw_data and typed data fields");
  if (p.has_raw) {
    if (type->size == 0) return refuse(Severity::kCritical, "of type STRING carries raw_data");
    if (p.raw.size() != result.declared_bytes) {
      return refuse(Severity::kCritical, "data does not match its shape: a " + shape + " needs " +
                                             std::to_string(result.declared_bytes) + " bytes, raw_data holds " +
                                             std::to_string(p.raw.size()));
    }
    return result;
  }
  for (Field f : kTypedFields) {
    if (f != type->field && p.counts[f] > 0) {
      return refuse(Severity::kCritical,
                    "keeps data in " + std::string(FieldName(f)) + ", which a " + type->name + " tensor does not use");
    }
  }
  uint64_t expected = *count * type->per_element;
  if (p.counts[type->field] != expected) {
    return refuse(Severity::kCritical, "data does not match its shape: a " + shape + " needs " +
                                           std::to_string(expected) + " values, " + FieldName(type->field) + " holds " +
                                           std::to_string(p.counts[type->field]));
  }
  return result;
}

Status CheckOnnxSparseTensor(std::span<const uint8_t> sparse, const std::string& where, const ScanLimits&,
                             FindingList& out) {
  std::vector<int64_t> dims;
  Parsed values, indices;
  bool has_values = false, has_indices = false;
  ProtoReader r(sparse);
  while (!r.done()) {
    ProtoField f;
    AEGIS_RETURN_IF_ERROR(r.Next(&f));
    if ((f.number == 1 || f.number == 2) && f.wire_type == kLengthDelimited) {
      AEGIS_RETURN_IF_ERROR(Parse(f.bytes, f.number == 1 ? &values : &indices));
      (f.number == 1 ? has_values : has_indices) = true;
    } else if (f.number == 3) {
      if (f.wire_type == kVarint) {
        dims.push_back(static_cast<int64_t>(f.varint));
      } else if (f.wire_type != kLengthDelimited ||
                 !ForEachVarint(f.bytes, [&](uint64_t v) { dims.push_back(static_cast<int64_t>(v)); })) {
        return Malformed("sparse tensor dims are not varints");
      }
    }
  }
  auto refuse = [&](const std::string& why) {
    out.Add(Severity::kCritical, where, "sparse tensor " + why);
    return Status::Ok();
  };
  std::string why;
  auto dense = ElementCount(dims, &why);
  if (!dense) return refuse(why);
  if (!has_values || !has_indices) return refuse("needs both values and indices");
  if (values.dims.size() != 1 || values.dims[0] < 0) return refuse("values must be one-dimensional");
  uint64_t nnz = static_cast<uint64_t>(values.dims[0]);
  uint64_t rank = dims.size();
  bool linear = indices.dims.size() == 1 && static_cast<uint64_t>(indices.dims[0]) == nnz;
  bool coordinates = indices.dims.size() == 2 && static_cast<uint64_t>(indices.dims[0]) == nnz &&
                     static_cast<uint64_t>(indices.dims[1]) == rank;
  if (indices.type != kInt64 || !(linear || coordinates)) {
    return refuse("indices must be INT64 of shape [NNZ] or [NNZ, rank]");
  }
  std::vector<int64_t> index = indices.int64_values;
  if (indices.has_raw) {
    index.clear();
    for (size_t i = 0; i + 8 <= indices.raw.size(); i += 8) {
      uint64_t v = 0;
      for (size_t b = 8; b-- > 0;) v = v << 8 | indices.raw[i + b];
      index.push_back(static_cast<int64_t>(v));
    }
  }
  uint64_t per = linear ? 1 : rank;
  if (per == 0 || nnz > index.size() / per || index.size() != nnz * per) {
    return Status::Ok();  // the indices tensor's own check reports the mismatch
  }
  for (size_t i = 0; i < index.size(); ++i) {
    int64_t bound = linear ? static_cast<int64_t>(*dense) : dims[i % rank];
    if (index[i] < 0 || index[i] >= bound) {
      return refuse("index " + std::to_string(index[i]) + " lies outside its dense shape " + Dims(dims));
    }
  }
  return Status::Ok();
}

}  // namespace aegis::scan::internal
