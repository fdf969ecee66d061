// The few ONNX fields Aegis needs, read with the shared bounded wire reader
// (aegis/common/protobuf_wire.h).
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

#include "aegis/common/protobuf_wire.h"

namespace aegis::runtime {
namespace {

constexpr size_t kMaxValues = 100000;  // graph inputs/outputs/initializers: far above real models
constexpr size_t kMaxRank = 64;

using protobuf::kLengthDelimited;
using protobuf::kVarint;
using protobuf::ProtoField;
using protobuf::ProtoReader;

Status Malformed(std::string_view what) { return ProtoReader::Malformed(std::string(what)); }

// Calls `on_field(field)` for each field of `message`, in wire order.
template <typename OnField>
Status ForEachField(std::span<const uint8_t> message, OnField on_field) {
  ProtoReader reader(message);
  while (!reader.done()) {
    ProtoField field;
    AEGIS_RETURN_IF_ERROR(reader.Next(&field));
    AEGIS_RETURN_IF_ERROR(on_field(field));
  }
  return Status::Ok();
}

Status ExpectWireType(uint32_t actual, uint32_t expected) {
  return actual == expected ? Status::Ok() : Malformed("field has the wrong wire type");
}

std::string AsString(std::span<const uint8_t> bytes) { return std::string(bytes.begin(), bytes.end()); }

Status ParseDimension(std::span<const uint8_t> message, int64_t* dim) {
  *dim = -1;
  return ForEachField(message, [&](const ProtoField& f) -> Status {
    if (f.number != 1) return Status::Ok();  // dim_param (2) and denotation leave the dimension variable
    AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kVarint));
    if (static_cast<int64_t>(f.varint) < 0) return Malformed("negative dimension");
    *dim = static_cast<int64_t>(f.varint);
    return Status::Ok();
  });
}

Status ParseTensorType(std::span<const uint8_t> message, OnnxValueInfo* info) {
  info->is_tensor = true;
  return ForEachField(message, [&](const ProtoField& f) -> Status {
    if (f.number == 1) {
      AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kVarint));
      info->elem_type = static_cast<int32_t>(static_cast<uint32_t>(f.varint));  // int32 on the wire
    } else if (f.number == 2) {
      AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kLengthDelimited));
      info->has_shape = true;
      return ForEachField(f.bytes, [&](const ProtoField& dim_field) -> Status {
        if (dim_field.number != 1) return Status::Ok();
        AEGIS_RETURN_IF_ERROR(ExpectWireType(dim_field.wire_type, kLengthDelimited));
        if (info->dims.size() == kMaxRank) return Malformed("tensor rank above " + std::to_string(kMaxRank));
        int64_t dim = -1;
        AEGIS_RETURN_IF_ERROR(ParseDimension(dim_field.bytes, &dim));
        info->dims.push_back(dim);
        return Status::Ok();
      });
    }
    return Status::Ok();
  });
}

Status ParseValueInfo(std::span<const uint8_t> message, OnnxValueInfo* info) {
  return ForEachField(message, [&](const ProtoField& f) -> Status {
    if (f.number != 1 && f.number != 2) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kLengthDelimited));
    if (f.number == 1) {
      info->name = AsString(f.bytes);
      return Status::Ok();
    }
    // TypeProto: only tensor_type (1) is a tensor; sequences, maps etc. stay !is_tensor.
    return ForEachField(f.bytes, [&](const ProtoField& type_field) -> Status {
      if (type_field.number != 1) return Status::Ok();
      AEGIS_RETURN_IF_ERROR(ExpectWireType(type_field.wire_type, kLengthDelimited));
      return ParseTensorType(type_field.bytes, info);
    });
  });
}

// The `name` (field 8) of a TensorProto.
Status ParseTensorName(std::span<const uint8_t> message, std::string* name) {
  return ForEachField(message, [&](const ProtoField& f) -> Status {
    if (f.number != 8) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kLengthDelimited));
    *name = AsString(f.bytes);
    return Status::Ok();
  });
}

struct GraphFields {
  std::vector<OnnxValueInfo> inputs, outputs;
  std::unordered_set<std::string> initializers;
};

Status ParseGraph(std::span<const uint8_t> message, GraphFields* graph) {
  return ForEachField(message, [&](const ProtoField& f) -> Status {
    const uint32_t field = f.number;
    if (field != 5 && field != 11 && field != 12 && field != 15) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kLengthDelimited));
    const std::span<const uint8_t> bytes = f.bytes;
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
      AEGIS_RETURN_IF_ERROR(ForEachField(bytes, [&](const ProtoField& values) -> Status {
        if (values.number != 1) return Status::Ok();
        AEGIS_RETURN_IF_ERROR(ExpectWireType(values.wire_type, kLengthDelimited));
        return ParseTensorName(values.bytes, &name);
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
  AEGIS_RETURN_IF_ERROR(ForEachField(model, [&](const ProtoField& f) {
    if (f.number != 7) return Status::Ok();
    AEGIS_RETURN_IF_ERROR(ExpectWireType(f.wire_type, kLengthDelimited));
    has_graph = true;
    return ParseGraph(f.bytes, &graph);
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
  static constexpr const char* kNames[] = {"UNDEFINED", "FLOAT",  "UINT8",     "INT8",       "UINT16",  "INT16",
                                           "INT32",     "INT64",  "STRING",    "BOOL",       "FLOAT16", "DOUBLE",
                                           "UINT32",    "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  if (elem_type >= 0 && elem_type < static_cast<int32_t>(std::size(kNames))) return kNames[elem_type];
  return "type " + std::to_string(elem_type);
}

}  // namespace aegis::runtime
