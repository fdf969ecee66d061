// A minimal protobuf wire-format reader for the few ONNX fields Aegis needs.
//
// Field numbers are from onnx/onnx.proto3: ModelProto.graph = 7; GraphProto
// initializer = 5, input = 11, output = 12, sparse_initializer = 15;
// ValueInfoProto name = 1, type = 2; TypeProto tensor_type = 1; Tensor elem_type = 1,
// shape = 2; TensorShapeProto dim = 1; Dimension dim_value = 1, dim_param = 2;
// TensorProto name = 8; SparseTensorProto values = 1.
// A message field seen twice is merged (repeated parts appended), as protobuf does.
#include "onnx_graph_info.h"

#include <string_view>
#include <unordered_set>

namespace aegis::runtime {
namespace {

constexpr size_t kMaxValues = 100000;  // graph inputs/outputs/initializers: far above real models
constexpr size_t kMaxRank = 64;

enum WireType { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

Status Malformed(std::string_view what) { return Status::Unprocessable("malformed ONNX model: " + std::string(what)); }

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  bool done() const { return pos_ == bytes_.size(); }

  Status Varint(uint64_t* out) {
    uint64_t value = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ == bytes_.size()) return Malformed("truncated varint");
      uint8_t byte = bytes_[pos_++];
      // The tenth byte may only contribute the top bit of a 64-bit value.
      if (i == 9 && byte > 1) return Malformed("varint overflows 64 bits");
      value |= uint64_t{byte & 0x7Fu} << (7 * i);
      if ((byte & 0x80) == 0) {
        *out = value;
        return Status::Ok();
      }
    }
    return Malformed("varint longer than 10 bytes");
  }

  Status Key(uint32_t* field, uint32_t* wire_type) {
    uint64_t key = 0;
    AEGIS_RETURN_IF_ERROR(Varint(&key));
    uint64_t number = key >> 3;
    if (number == 0 || number > 0x1FFFFFFF) return Malformed("invalid field number");
    *field = static_cast<uint32_t>(number);
    *wire_type = static_cast<uint32_t>(key & 7);
    return Status::Ok();
  }

  Status Bytes(std::span<const uint8_t>* out) {
    uint64_t length = 0;
    AEGIS_RETURN_IF_ERROR(Varint(&length));
    if (length > bytes_.size() - pos_) return Malformed("length runs past the end of its message");
    *out = bytes_.subspan(pos_, static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return Status::Ok();
  }

  Status Skip(uint32_t wire_type) {
    std::span<const uint8_t> ignored;
    uint64_t ignored_varint = 0;
    switch (wire_type) {
      case kVarint: return Varint(&ignored_varint);
      case kLen: return Bytes(&ignored);
      case kFixed64: return Advance(8);
      case kFixed32: return Advance(4);
      default: return Malformed("unsupported wire type " + std::to_string(wire_type));
    }
  }

 private:
  Status Advance(size_t n) {
    if (n > bytes_.size() - pos_) return Malformed("truncated fixed-width field");
    pos_ += n;
    return Status::Ok();
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// Calls `on_field(field, wire_type, reader)` for each field; the callback consumes
// the fields it knows and returns false to have the others skipped.
template <typename OnField>
Status ForEachField(std::span<const uint8_t> message, OnField on_field) {
  WireReader reader(message);
  while (!reader.done()) {
    uint32_t field = 0, wire_type = 0;
    AEGIS_RETURN_IF_ERROR(reader.Key(&field, &wire_type));
    bool consumed = false;
    AEGIS_RETURN_IF_ERROR(on_field(field, wire_type, reader, &consumed));
    if (!consumed) AEGIS_RETURN_IF_ERROR(reader.Skip(wire_type));
  }
  return Status::Ok();
}

Status ExpectWireType(uint32_t actual, uint32_t expected) {
  return actual == expected ? Status::Ok() : Malformed("field has the wrong wire type");
}

std::string AsString(std::span<const uint8_t> bytes) { return std::string(bytes.begin(), bytes.end()); }

Status ParseDimension(std::span<const uint8_t> message, int64_t* dim) {
  *dim = -1;
  return ForEachField(message, [&](uint32_t field, uint32_t wire, WireReader& r, bool* consumed) -> Status {
    if (field != 1) return Status::Ok();  // dim_param (2) and denotation leave the dimension variable
    AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kVarint));
    uint64_t value = 0;
    AEGIS_RETURN_IF_ERROR(r.Varint(&value));
    if (static_cast<int64_t>(value) < 0) return Malformed("negative dimension");
    *dim = static_cast<int64_t>(value);
    *consumed = true;
    return Status::Ok();
  });
}

Status ParseTensorType(std::span<const uint8_t> message, OnnxValueInfo* info) {
  info->is_tensor = true;
  return ForEachField(message, [&](uint32_t field, uint32_t wire, WireReader& r, bool* consumed) -> Status {
    if (field == 1) {
      AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kVarint));
      uint64_t value = 0;
      AEGIS_RETURN_IF_ERROR(r.Varint(&value));
      info->elem_type = static_cast<int32_t>(static_cast<uint32_t>(value));  // int32 on the wire
      *consumed = true;
    } else if (field == 2) {
      AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kLen));
      std::span<const uint8_t> shape;
      AEGIS_RETURN_IF_ERROR(r.Bytes(&shape));
      info->has_shape = true;
      AEGIS_RETURN_IF_ERROR(ForEachField(shape, [&](uint32_t f, uint32_t w, WireReader& rr, bool* c) -> Status {
        if (f != 1) return Status::Ok();
        AEGIS_RETURN_IF_ERROR(ExpectWireType(w, kLen));
        if (info->dims.size() == kMaxRank) return Malformed("tensor rank above " + std::to_string(kMaxRank));
        std::span<const uint8_t> dim_message;
        AEGIS_RETURN_IF_ERROR(rr.Bytes(&dim_message));
        int64_t dim = -1;
        AEGIS_RETURN_IF_ERROR(ParseDimension(dim_message, &dim));
        info->dims.push_back(dim);
        *c = true;
        return Status::Ok();
      }));
      *consumed = true;
    }
    return Status::Ok();
  });
}

Status ParseValueInfo(std::span<const uint8_t> message, OnnxValueInfo* info) {
  return ForEachField(message, [&](uint32_t field, uint32_t wire, WireReader& r, bool* consumed) -> Status {
    if (field != 1 && field != 2) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kLen));
    std::span<const uint8_t> bytes;
    AEGIS_RETURN_IF_ERROR(r.Bytes(&bytes));
    *consumed = true;
    if (field == 1) {
      info->name = AsString(bytes);
      return Status::Ok();
    }
    // TypeProto: only tensor_type (1) is a tensor; sequences, maps etc. stay !is_tensor.
    return ForEachField(bytes, [&](uint32_t f, uint32_t w, WireReader& rr, bool* c) -> Status {
      if (f != 1) return Status::Ok();
      AEGIS_RETURN_IF_ERROR(ExpectWireType(w, kLen));
      std::span<const uint8_t> tensor_type;
      AEGIS_RETURN_IF_ERROR(rr.Bytes(&tensor_type));
      *c = true;
      return ParseTensorType(tensor_type, info);
    });
  });
}

// The `name` (field 8) of a TensorProto.
Status ParseTensorName(std::span<const uint8_t> message, std::string* name) {
  return ForEachField(message, [&](uint32_t field, uint32_t wire, WireReader& r, bool* consumed) -> Status {
    if (field != 8) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kLen));
    std::span<const uint8_t> bytes;
    AEGIS_RETURN_IF_ERROR(r.Bytes(&bytes));
    *name = AsString(bytes);
    *consumed = true;
    return Status::Ok();
  });
}

struct GraphFields {
  std::vector<OnnxValueInfo> inputs, outputs;
  std::unordered_set<std::string> initializers;
};

Status ParseGraph(std::span<const uint8_t> message, GraphFields* graph) {
  return ForEachField(message, [&](uint32_t field, uint32_t wire, WireReader& r, bool* consumed) -> Status {
    if (field != 5 && field != 11 && field != 12 && field != 15) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kLen));
    std::span<const uint8_t> bytes;
    AEGIS_RETURN_IF_ERROR(r.Bytes(&bytes));
    *consumed = true;
    if (graph->inputs.size() + graph->outputs.size() + graph->initializers.size() >= kMaxValues) {
      return Malformed("more than " + std::to_string(kMaxValues) + " graph values");
    }
    if (field == 11 || field == 12) {
      OnnxValueInfo info;
      AEGIS_RETURN_IF_ERROR(ParseValueInfo(bytes, &info));
      (field == 11 ? graph->inputs : graph->outputs).push_back(std::move(info));
      return Status::Ok();
    }
    std::string name;
    if (field == 5) {
      AEGIS_RETURN_IF_ERROR(ParseTensorName(bytes, &name));
    } else {  // SparseTensorProto: the name is on its `values` tensor (field 1)
      AEGIS_RETURN_IF_ERROR(ForEachField(bytes, [&](uint32_t f, uint32_t w, WireReader& rr, bool* c) -> Status {
        if (f != 1) return Status::Ok();
        AEGIS_RETURN_IF_ERROR(ExpectWireType(w, kLen));
        std::span<const uint8_t> values;
        AEGIS_RETURN_IF_ERROR(rr.Bytes(&values));
        *c = true;
        return ParseTensorName(values, &name);
      }));
    }
    graph->initializers.insert(std::move(name));
    return Status::Ok();
  });
}

}  // namespace

StatusOr<OnnxGraphInfo> ReadOnnxGraphInfo(std::span<const uint8_t> model) {
  GraphFields graph;
  bool has_graph = false;
  AEGIS_RETURN_IF_ERROR(ForEachField(model, [&](uint32_t field, uint32_t wire, WireReader& r, bool* consumed) {
    if (field != 7) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(wire, kLen));
    std::span<const uint8_t> bytes;
    AEGIS_RETURN_IF_ERROR(r.Bytes(&bytes));
    *consumed = true;
    has_graph = true;
    return ParseGraph(bytes, &graph);
  }));
  if (!has_graph) return Status::Unprocessable("not an ONNX model: no graph");
  OnnxGraphInfo info;
  for (OnnxValueInfo& input : graph.inputs) {
    // Older exporters list initializers among the inputs too; those are weights, not inputs.
    if (!graph.initializers.contains(input.name)) info.inputs.push_back(std::move(input));
  }
  info.outputs = std::move(graph.outputs);
  return info;
}

std::string OnnxElemTypeName(int32_t elem_type) {
  static constexpr const char* kNames[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16",
                                           "INT32", "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE",
                                           "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  if (elem_type >= 0 && elem_type < static_cast<int32_t>(std::size(kNames))) return kNames[elem_type];
  return "type " + std::to_string(elem_type);
}

}  // namespace aegis::runtime
