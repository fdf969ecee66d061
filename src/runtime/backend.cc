// Format names and the LoadBackend dispatcher.
#include "aegis/runtime/backend.h"

#include "engines.h"

namespace aegis::runtime {

std::string_view ModelFormatName(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return "onnx";
    case ModelFormat::kTorchScript:
      return "torchscript";
    case ModelFormat::kXgboost:
      return "xgboost";
  }
  return "unknown";
}

std::optional<ModelFormat> ParseModelFormat(std::string_view name) {
  for (ModelFormat format : {ModelFormat::kOnnx, ModelFormat::kTorchScript, ModelFormat::kXgboost}) {
    if (ModelFormatName(format) == name) return format;
  }
  return std::nullopt;
}

void PrepareEngine(ModelFormat format) {
  switch (format) {
    case ModelFormat::kOnnx:
      return PrepareOnnxEngine();
    case ModelFormat::kTorchScript:
      return PrepareTorchScriptEngine();
    case ModelFormat::kXgboost:
      return PrepareXgboostEngine();
  }
}

StatusOr<std::unique_ptr<Backend>> LoadBackend(ModelFormat format, std::span<const uint8_t> model_bytes,
                                               const EngineOptions& options) {
  if (model_bytes.empty()) return Status::Unprocessable("the model is empty");
  switch (format) {
    case ModelFormat::kOnnx:
      return LoadOnnxBackend(model_bytes, options);
    case ModelFormat::kTorchScript:
      return LoadTorchScriptBackend(model_bytes, options);
    case ModelFormat::kXgboost:
      return LoadXgboostBackend(model_bytes, options);
  }
  return Status::InvalidArgument("unknown model format");
}

StatusOr<uint64_t> DenseElementCount(const TensorView& tensor) {
  size_t element_size = DataTypeSize(tensor.datatype);
  std::optional<uint64_t> count = tensor.ElementCount();
  if (element_size == 0 || !count || *count > tensor.data.size() / element_size ||
      *count * element_size != tensor.data.size()) {
    return Status::InvalidArgument("input '" + std::string(tensor.name) + "' does not match its shape and datatype");
  }
  return *count;
}

std::string PublicMessage(StatusCode code) {
  return code == StatusCode::kInvalidArgument ? "the input does not fit the model" : "inference failed";
}

std::string EngineMessage(std::string_view message) {
  constexpr size_t kMaxLength = 512;
  std::string out;
  for (char c : message.substr(0, kMaxLength)) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (message.size() > kMaxLength) out += "...";
  return out.empty() ? "(no message from the engine)" : out;
}

}  // namespace aegis::runtime
