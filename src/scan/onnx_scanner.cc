// ONNX: walks ModelProto → graph (and the graphs nested in node attributes, and
// training_info graphs), functions and opset imports, looking at:
//   - every tensor's declared shape against its data (onnx_tensor.h), and the
//     total size external tensors declare;
//   - tensors (initializers, sparse initializers, attribute tensors) stored
//     externally: the path must be relative and stay inside the model's folder, and
//     a single artifact cannot carry external data at all;
//   - operator domains (opset_import, nodes, local functions) other than "" and
//     "ai.onnx", which the engine does not know (custom operators load native code
//     in some runtimes).
// Field numbers from onnx/onnx.proto3. Nesting deeper than max_protobuf_depth is a
// finding (and not descended into); a wire-format error is a Status.
#include <algorithm>

#include "aegis/common/protobuf_wire.h"
#include "onnx_tensor.h"
#include "scan_internal.h"

namespace aegis::scan::internal {
namespace {

using protobuf::kLengthDelimited;
using protobuf::kVarint;
using protobuf::ProtoField;
using protobuf::ProtoReader;

Status Expect(const ProtoField& f, uint32_t wire_type) {
  return f.wire_type == wire_type ? Status::Ok() : ProtoReader::Malformed("field has the wrong wire type");
}

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

class OnnxWalker {
 public:
  OnnxWalker(const ScanLimits& limits, FindingList& out, std::vector<ExternalDataRef>* refs)
      : limits_(limits), out_(out), refs_(refs) {}

  Status Model(std::span<const uint8_t> bytes) {
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 7) AEGIS_RETURN_IF_ERROR(Nested(f, "graph", 1, &OnnxWalker::Graph));
      if (f.number == 8) AEGIS_RETURN_IF_ERROR(Nested(f, "opset_import", 1, &OnnxWalker::Opset));
      if (f.number == 25) AEGIS_RETURN_IF_ERROR(Nested(f, "functions", 1, &OnnxWalker::Function));
      if (f.number == 20) AEGIS_RETURN_IF_ERROR(Nested(f, "training_info", 1, &OnnxWalker::TrainingInfo));
    }
    return Status::Ok();
  }

 private:
  using Visit = Status (OnnxWalker::*)(std::span<const uint8_t>, const std::string&, int);

  // A length-delimited sub-message, one level deeper.
  Status Nested(const ProtoField& f, const std::string& path, int depth, Visit visit) {
    AEGIS_RETURN_IF_ERROR(Expect(f, kLengthDelimited));
    if (depth > limits_.max_protobuf_depth) {
      out_.Add(Severity::kCritical, path,
               "ONNX model nests deeper than " + std::to_string(limits_.max_protobuf_depth) + " levels");
      return Status::Ok();
    }
    return (this->*visit)(f.bytes, path, depth);
  }

  Status Graph(std::span<const uint8_t> bytes, const std::string& path, int depth) {
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 1) AEGIS_RETURN_IF_ERROR(Nested(f, path + ".node", depth + 1, &OnnxWalker::Node));
      if (f.number == 5) AEGIS_RETURN_IF_ERROR(Nested(f, path + ".initializer", depth + 1, &OnnxWalker::Tensor));
      if (f.number == 15) {
        AEGIS_RETURN_IF_ERROR(Nested(f, path + ".sparse_initializer", depth + 1, &OnnxWalker::SparseTensor));
      }
    }
    return Status::Ok();
  }

  Status Node(std::span<const uint8_t> bytes, const std::string& path, int depth) {
    std::string name, op_type, domain;
    ProtoReader first(bytes);
    while (!first.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(first.Next(&f));
      if (f.number == 3 || f.number == 4 || f.number == 7) {
        AEGIS_RETURN_IF_ERROR(Expect(f, kLengthDelimited));
        (f.number == 3 ? name : f.number == 4 ? op_type : domain) = std::string(f.text());
      }
    }
    std::string here = path + " '" + Printable(name.empty() ? op_type : name, 100) + "'";
    CheckDomain(domain, here);
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 5) AEGIS_RETURN_IF_ERROR(Nested(f, here + ".attribute", depth + 1, &OnnxWalker::Attribute));
    }
    return Status::Ok();
  }

  Status Attribute(std::span<const uint8_t> bytes, const std::string& path, int depth) {
    std::string name;
    ProtoReader first(bytes);
    while (!first.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(first.Next(&f));
      if (f.number == 1 && f.wire_type == kLengthDelimited) name = std::string(f.text());
    }
    std::string here = path + " '" + Printable(name, 100) + "'";
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 5 || f.number == 10)
        AEGIS_RETURN_IF_ERROR(Nested(f, here + ".t", depth + 1, &OnnxWalker::Tensor));
      if (f.number == 6 || f.number == 11) AEGIS_RETURN_IF_ERROR(Nested(f, here + ".g", depth + 1, &OnnxWalker::Graph));
      if (f.number == 22 || f.number == 23) {
        AEGIS_RETURN_IF_ERROR(Nested(f, here + ".sparse_tensor", depth + 1, &OnnxWalker::SparseTensor));
      }
    }
    return Status::Ok();
  }

  Status SparseTensor(std::span<const uint8_t> bytes, const std::string& path, int depth) {
    AEGIS_RETURN_IF_ERROR(CheckOnnxSparseTensor(bytes, path, limits_, out_));
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 1) AEGIS_RETURN_IF_ERROR(Nested(f, path + ".values", depth + 1, &OnnxWalker::Tensor));
      if (f.number == 2) AEGIS_RETURN_IF_ERROR(Nested(f, path + ".indices", depth + 1, &OnnxWalker::Tensor));
    }
    return Status::Ok();
  }

  Status Tensor(std::span<const uint8_t> bytes, const std::string& path, int depth);

  Status Function(std::span<const uint8_t> bytes, const std::string& path, int depth) {
    std::string name, domain;
    ProtoReader first(bytes);
    while (!first.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(first.Next(&f));
      if ((f.number == 1 || f.number == 10) && f.wire_type == kLengthDelimited) {
        (f.number == 1 ? name : domain) = std::string(f.text());
      }
    }
    std::string here = path + " '" + Printable(name, 100) + "'";
    CheckDomain(domain, here);
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 7) AEGIS_RETURN_IF_ERROR(Nested(f, here + ".node", depth + 1, &OnnxWalker::Node));
      if (f.number == 9) AEGIS_RETURN_IF_ERROR(Nested(f, here + ".opset_import", depth + 1, &OnnxWalker::Opset));
    }
    return Status::Ok();
  }

  Status Opset(std::span<const uint8_t> bytes, const std::string& path, int) {
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 1) {
        AEGIS_RETURN_IF_ERROR(Expect(f, kLengthDelimited));
        CheckDomain(f.text(), path);
      }
    }
    return Status::Ok();
  }

  Status TrainingInfo(std::span<const uint8_t> bytes, const std::string& path, int depth) {
    ProtoReader r(bytes);
    while (!r.done()) {
      ProtoField f;
      AEGIS_RETURN_IF_ERROR(r.Next(&f));
      if (f.number == 1 || f.number == 2) {
        AEGIS_RETURN_IF_ERROR(
            Nested(f, path + (f.number == 1 ? ".initialization" : ".algorithm"), depth + 1, &OnnxWalker::Graph));
      }
    }
    return Status::Ok();
  }

  void CheckDomain(std::string_view domain, const std::string& where) {
    if (domain.empty() || domain == "ai.onnx") return;
    out_.Add(Severity::kMedium, where,
             "custom operator domain '" + Printable(domain, 100) + "' is not known to the engine");
  }

  const ScanLimits& limits_;
  FindingList& out_;
  std::vector<ExternalDataRef>* refs_;
  uint64_t external_bytes_ = 0;  // declared by all external tensors
};

Status OnnxWalker::Tensor(std::span<const uint8_t> bytes, const std::string& path, int) {
  std::string name, location, offset, length;
  bool external = false, has_location = false, has_length = false;
  ProtoReader r(bytes);
  while (!r.done()) {
    ProtoField f;
    AEGIS_RETURN_IF_ERROR(r.Next(&f));
    if (f.number == 8 && f.wire_type == kLengthDelimited) name = std::string(f.text());
    if (f.number == 14) {
      AEGIS_RETURN_IF_ERROR(Expect(f, kVarint));
      external = external || f.varint == 1;  // TensorProto.DataLocation.EXTERNAL
    }
    if (f.number != 13) continue;
    AEGIS_RETURN_IF_ERROR(Expect(f, kLengthDelimited));
    external = true;
    std::string key, value;
    ProtoReader entry(f.bytes);
    while (!entry.done()) {
      ProtoField e;
      AEGIS_RETURN_IF_ERROR(entry.Next(&e));
      if ((e.number == 1 || e.number == 2) && e.wire_type == kLengthDelimited) {
        (e.number == 1 ? key : value) = std::string(e.text());
      }
    }
    if (key == "location") location = value, has_location = true;
    if (key == "offset") offset = value;
    if (key == "length") length = value, has_length = true;
  }
  std::string where = path + " '" + Printable(name, 100) + "'";
  AEGIS_ASSIGN_OR_RETURN(TensorCheck check, CheckOnnxTensor(bytes, where, limits_, out_));
  if (!external) return Status::Ok();
  if (check.sized) {
    uint64_t before = external_bytes_;
    external_bytes_ += std::min(check.declared_bytes, limits_.max_tensor_bytes);
    if (before <= limits_.max_tensor_bytes && external_bytes_ > limits_.max_tensor_bytes) {
      out_.Add(Severity::kCritical, where,
               "external tensors declare more than " + std::to_string(limits_.max_tensor_bytes) + " bytes in total");
    }
  }
  if (!has_location) {
    out_.Add(Severity::kHigh, where, "external tensor data without a location");
    return Status::Ok();
  }
  std::string unsafe = UnsafeRelativePath(location);
  if (!unsafe.empty()) {
    out_.Add(Severity::kCritical, where,
             "external data path '" + Printable(location) + "' escapes the model folder (" + unsafe + ")");
    return Status::Ok();
  }
  if (refs_ == nullptr) {
    out_.Add(Severity::kHigh, where,
             "tensor data is stored in another file '" + Printable(location) + "': a single artifact cannot carry it");
    return Status::Ok();
  }
  ExternalDataRef ref{location, where, 0, 0, has_length, check.declared_bytes, check.sized};
  if ((!offset.empty() && !ParseDecimal(offset, &ref.offset)) || (has_length && !ParseDecimal(length, &ref.length))) {
    out_.Add(Severity::kHigh, where, "external data offset or length is not a number");
    return Status::Ok();
  }
  refs_->push_back(std::move(ref));
  return Status::Ok();
}

}  // namespace

bool LooksLikeOnnx(std::span<const uint8_t> bytes) {
  ProtoReader r(bytes);
  bool ir_version = false, graph = false;
  while (!r.done()) {
    ProtoField f;
    if (!r.Next(&f).ok()) return false;
    if (f.number == 1 && f.wire_type == kVarint && f.varint >= 1 && f.varint <= 100) ir_version = true;
    if (f.number == 7 && f.wire_type == kLengthDelimited) {
      ProtoReader g(f.bytes);
      while (!g.done()) {
        if (!g.Next(&f).ok()) return false;
      }
      graph = true;
    }
  }
  return ir_version && graph;
}

Status ScanOnnx(std::span<const uint8_t> bytes, const ScanLimits& limits, FindingList& out,
                std::vector<ExternalDataRef>* refs) {
  return OnnxWalker(limits, out, refs).Model(bytes);
}

}  // namespace aegis::scan::internal
